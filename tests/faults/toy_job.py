"""A tiny training job on the engine (the engine tests' toy method), for fault tests that need
real processes and real signals:

    python tests/faults/toy_job.py FOLDER [engine flags]

With SIGNAL=SIGTERM|SIGUSR1|SIGKILL|SIGSTOP, SIGNAL_AT_STEP=N and SIGNAL_RANK=R in the environment,
process R sends itself that signal during training step N. 12 samples, batch 4 (2 per process on
two): 3 steps per epoch, so step 5 is in the middle of epoch 2.
"""

import os
import signal
import socket
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder, processes=1, extra=(), **env):
    """The job on ``processes`` processes, each started with its own RANK/WORLD_SIZE/MASTER_*
    (no torchrun agent, as srun starts tasks); returns the Popen objects (stderr piped)."""
    port, jobs = str(free_port()), []
    for rank in range(processes):
        job_env = dict(os.environ, OMP_NUM_THREADS="1", **env)
        if processes > 1:
            job_env.update(RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE=str(processes))
            job_env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        command = [sys.executable, os.path.abspath(__file__), str(folder), *extra]
        jobs.append(subprocess.Popen(command, env=job_env, stderr=subprocess.PIPE, text=True))
    return jobs


def main(argv):
    import torch

    from tests.test_engine import Clips, Toy, engine_args
    from videossl.engine.schedules import WarmupPlateau
    from videossl.engine.training import TrainingRun

    class SignalledToy(Toy):
        def loss(self, batch, *, update_state=True):
            if update_state and os.environ.get("SIGNAL_RANK", "0") == os.environ.get("RANK", "0"):
                if self.step + 1 == int(os.environ.get("SIGNAL_AT_STEP", 0)):
                    os.kill(os.getpid(), getattr(signal, os.environ["SIGNAL"]))
            return super().loss(batch, update_state=update_state)

    folder, flags = argv[0], argv[1:]
    args = engine_args(None, "--epochs", "3", *flags)
    run = TrainingRun(args, "toy", os.path.join(folder, "ckpt"), os.path.join(folder, "logs"), vars(args))
    method = run.prepare_model(SignalledToy())
    optimizer = torch.optim.Adam(method.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = WarmupPlateau(optimizer, warmup=(0.5, 1.0), patience=1)
    start_epoch = run.resume(method, optimizer, schedule)

    def save(epoch, metrics):
        run.save(epoch + 1, method, optimizer, schedule, loss=metrics["loss"])

    run.fit(method, run.loader(Clips(), args.batch_size), optimizer, schedule, start_epoch, save)
    run.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    from videossl.cli import run_cli

    run_cli(main, sys.argv[1:])
