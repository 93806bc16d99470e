"""Preemption: SIGTERM or SIGUSR1 mid-epoch makes a run save the step it is at and exit with the
requeue status; --restart continues from that step and ends with the weights of an uninterrupted
run, bit for bit, on one process and on two."""

import os
import socket
import subprocess
import sys

import torch

from videossl.engine.preemption import PREEMPTED_EXIT
from videossl.models.checkpoint import read_checkpoint_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = """
import os, signal, sys
sys.path.insert(0, {root!r})
import torch
from tests.test_engine import Clips, Toy, engine_args
from videossl.cli import run_cli
from videossl.engine.schedules import WarmupPlateau
from videossl.engine.training import TrainingRun

class SignalledAtStep(Toy):
    def loss(self, batch, *, update_state=True):
        if update_state and os.environ.get("SIGNAL_RANK", "0") == os.environ.get("RANK", "0"):
            if self.step + 1 == int(os.environ.get("SIGNAL_AT_STEP", 0)):  # a real signal, mid-step
                os.kill(os.getpid(), getattr(signal, os.environ["SIGNAL"]))
        return super().loss(batch, update_state=update_state)

def main(argv):
    args = engine_args(None, "--epochs", "3", *argv)
    run = TrainingRun(args, "toy", sys.argv[1] + "/ckpt", sys.argv[1] + "/logs", vars(args))
    method = run.prepare_model(SignalledAtStep())
    optimizer = torch.optim.Adam(method.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = WarmupPlateau(optimizer, warmup=(0.5, 1.0), patience=1)
    start = run.resume(method, optimizer, schedule)
    save = lambda epoch, metrics: run.save(epoch + 1, method, optimizer, schedule, loss=metrics["loss"])
    run.fit(method, run.loader(Clips(), args.batch_size), optimizer, schedule, start, save)
    run.close()

run_cli(main, sys.argv[2:])
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(script, folder, processes, extra=(), **env):
    """Exit statuses and stderr of the job on ``processes`` processes (environment per process)."""
    port, jobs = str(free_port()), []
    for rank in range(processes):
        job_env = dict(os.environ, OMP_NUM_THREADS="1", **env)
        if processes > 1:
            job_env.update(RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE=str(processes))
            job_env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        command = [sys.executable, str(script), str(folder), *extra]
        jobs.append(subprocess.Popen(command, env=job_env, stderr=subprocess.PIPE, text=True))
    errs = [job.communicate(timeout=300)[1] for job in jobs]
    return [job.returncode for job in jobs], errs


def weights(folder):
    checkpoint = read_checkpoint_file(str(folder / "ckpt" / "last.pt"))
    return {**checkpoint["backbone"]["state_dict"], **checkpoint["heads"]["head"]}, checkpoint


def check_preempted_run_equals_straight_run(tmp_path, processes, signal_name, signal_rank):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(root=ROOT))
    codes, errs = run_job(script, tmp_path / "straight", processes)
    assert codes == [0] * processes, errs
    # 12 samples, batch 4: 3 steps per epoch (on 2 processes: 2 samples each); step 5 is mid-epoch 2
    signal_env = dict(SIGNAL=signal_name, SIGNAL_AT_STEP="5", SIGNAL_RANK=str(signal_rank))
    codes, errs = run_job(script, tmp_path / "preempted", processes, **signal_env)
    assert codes == [PREEMPTED_EXIT] * processes, errs  # every process stops after the same step
    stopped = [line for line in errs[0].splitlines() if line.startswith("stopped:")]
    assert len(stopped) == 1 and "after step 5 (step 2 of epoch 2)" in stopped[0] and "Traceback" not in errs[0]
    saved, checkpoint = weights(tmp_path / "preempted")
    assert checkpoint["epoch"] == 1 and checkpoint["step"] == 5
    codes, errs = run_job(script, tmp_path / "preempted", processes, extra=["--restart"])
    assert codes == [0] * processes, errs
    resumed, checkpoint = weights(tmp_path / "preempted")
    straight, reference = weights(tmp_path / "straight")
    assert checkpoint["epoch"] == 3 and checkpoint["step"] == 9
    for name, value in straight.items():
        assert torch.equal(value, resumed[name]), name
    losses = [h["loss"] for h in checkpoint["training_state"]["history"]]
    assert losses == [h["loss"] for h in reference["training_state"]["history"]]  # epoch 2's mean too


def test_sigterm_mid_epoch_then_restart_equals_an_uninterrupted_run(tmp_path):
    check_preempted_run_equals_straight_run(tmp_path, 1, "SIGTERM", 0)


def test_sigusr1_on_one_of_two_processes_stops_both_after_the_same_step(tmp_path):
    check_preempted_run_equals_straight_run(tmp_path, 2, "SIGUSR1", 1)
