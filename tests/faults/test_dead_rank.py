"""A DDP process that dies: the other one stops within --dist_timeout with one line naming the
rank that stopped and the newest complete checkpoint, also without torchrun's agent (the environment set per process, as
srun launches tasks); --restart then resumes."""

import os
import signal
import socket
import subprocess
import sys
import time

from videossl.models.checkpoint import read_checkpoint_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = """
import os, signal, sys
sys.path.insert(0, {root!r})
import torch
from tests.test_engine import Clips, Toy, engine_args
from videossl.cli import run_cli
from videossl.engine.training import TrainingRun

class FailsAtStep5(Toy):
    def loss(self, batch, *, update_state=True):
        if update_state and os.environ.get("RANK") == "1" and self.step == 4:  # mid-epoch 2 (3 steps per epoch)
            os.kill(os.getpid(), getattr(signal, os.environ["FAULT"]))  # SIGKILL: dead; SIGSTOP: unreachable
        return super().loss(batch, update_state=update_state)

def main(argv):
    args = engine_args(None, "--epochs", "3", "--dist_timeout", "8", *argv)
    run = TrainingRun(args, "toy", {folder!r} + "/ckpt", {folder!r} + "/logs", vars(args))
    method = run.prepare_model(FailsAtStep5())
    optimizer = torch.optim.SGD(method.parameters(), lr=0.05)
    from videossl.engine.schedules import MultiStep
    schedule = MultiStep(optimizer, [])
    start = run.resume(method, optimizer, schedule)
    save = lambda epoch, metrics: run.save(epoch + 1, method, optimizer, schedule, loss=metrics["loss"])
    run.fit(method, run.loader(Clips(), args.batch_size), optimizer, schedule, start, save)
    run.close()

run_cli(main, sys.argv[1:])
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_two_ranks(script, fault):
    port, ranks = str(free_port()), []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1")
        env.update(MASTER_PORT=port, OMP_NUM_THREADS="1", FAULT=fault)
        ranks.append(subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True))
    return ranks


def survivor_error(survivor):
    err = survivor.communicate(timeout=120)[1]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert survivor.returncode == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert "rank 0: the process group failed at step 5: rank 1 stopped" in errors[0] and "ckpt/last.pt" in errors[0]
    return errors[0]


def test_a_killed_rank_stops_the_other_at_once_and_restart_resumes(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(root=ROOT, folder=str(tmp_path)))
    ranks = start_two_ranks(script, "SIGKILL")
    ranks[1].wait(timeout=120)
    died = time.monotonic()
    survivor_error(ranks[0])
    assert ranks[1].returncode == -signal.SIGKILL and time.monotonic() - died < 8  # the closed connection tells
    assert read_checkpoint_file(str(tmp_path / "ckpt" / "last.pt"))["epoch"] == 1

    restart = subprocess.run([sys.executable, str(script), "--restart"], capture_output=True, text=True, timeout=300)
    assert restart.returncode == 0, restart.stderr
    assert read_checkpoint_file(str(tmp_path / "ckpt" / "last.pt"))["epoch"] == 3


def test_an_unresponsive_rank_stops_the_other_after_the_timeout(tmp_path):
    # a stopped process keeps its connections open, as a node that hangs or drops off the network
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(root=ROOT, folder=str(tmp_path)))
    ranks = start_two_ranks(script, "SIGSTOP")
    try:
        started = time.monotonic()
        while time.monotonic() - started < 120 and not open(f"/proc/{ranks[1].pid}/stat").read().split()[2] == "T":
            time.sleep(0.1)
        stopped = time.monotonic()
        survivor_error(ranks[0])
        waited = time.monotonic() - stopped
        assert 7 < waited < 28, f"the survivor stopped after {waited:.0f} s (timeout 8 s)"
    finally:
        ranks[1].kill()
        ranks[1].wait()
