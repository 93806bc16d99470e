"""Preemption: SIGTERM or SIGUSR1 mid-epoch makes a run save the step it is at and exit with the
requeue status; --restart continues from that step and ends with the weights of an uninterrupted
run, bit for bit, on one process and on two."""

import torch

from tests.faults import toy_job
from videossl.engine.preemption import PREEMPTED_EXIT
from videossl.models.checkpoint import read_checkpoint_file


def run_job(folder, processes, extra=(), **env):
    jobs = toy_job.start(folder, processes, extra, **env)
    errs = [job.communicate(timeout=300)[1] for job in jobs]
    return [job.returncode for job in jobs], errs


def weights(folder):
    checkpoint = read_checkpoint_file(str(folder / "ckpt" / "last.pt"))
    return {**checkpoint["backbone"]["state_dict"], **checkpoint["heads"]["head"]}, checkpoint


def check_preempted_run_equals_straight_run(tmp_path, processes, signal_name, signal_rank):
    codes, errs = run_job(tmp_path / "straight", processes)
    assert codes == [0] * processes, errs
    # 12 samples, batch 4: 3 steps per epoch (on 2 processes: 2 samples each); step 5 is mid-epoch 2
    signal_env = dict(SIGNAL=signal_name, SIGNAL_AT_STEP="5", SIGNAL_RANK=str(signal_rank))
    codes, errs = run_job(tmp_path / "preempted", processes, **signal_env)
    assert codes == [PREEMPTED_EXIT] * processes, errs  # every process stops after the same step
    stopped = [line for line in errs[0].splitlines() if line.startswith("stopped:")]
    assert len(stopped) == 1 and "after step 5 (step 2 of epoch 2)" in stopped[0] and "Traceback" not in errs[0]
    saved, checkpoint = weights(tmp_path / "preempted")
    assert checkpoint["epoch"] == 1 and checkpoint["step"] == 5
    codes, errs = run_job(tmp_path / "preempted", processes, extra=["--restart"])
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
