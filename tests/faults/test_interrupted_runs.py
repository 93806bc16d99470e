"""Interrupted and failing runs: SIGKILL at random moments and during a checkpoint write, a full
disk or a permission error while saving, a loss that turns NaN. Nothing saved is ever lost, and
--restart reaches the weights an uninterrupted run reaches."""

import glob
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import REPO, communicate_or_kill, tiny_run_args

SCRIPT = os.path.join(REPO, "tclr_pretraining", "train_gen_all_step.py")
EPOCHS = 3


def tclr_args(tiny_synthetic, out_dir, *extra):
    flags = {"run_id": "run", "frames": 8, "num_local": 2, "batch_size": 2, "epochs": EPOCHS, "min_video_frames": 0}
    return tiny_run_args(tiny_synthetic, str(out_dir), flags, *extra)


def start(args, faults=()):
    """The training script in its own process (and process group), through the fault injector."""
    command = [sys.executable, "-m", "tests.faults.inject", *faults, SCRIPT, *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=REPO, PYTHONUNBUFFERED="1")  # lines as they happen
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def finish(process, timeout=180):
    return communicate_or_kill(process, timeout)


def run_dir(out_dir):
    return os.path.join(str(out_dir), "ss_saved_models", "run")


def has_checkpoint(out_dir):
    return bool(glob.glob(os.path.join(run_dir(out_dir), "*.pt")))


def weights(path):
    return torch.load(path, weights_only=True)["backbone"]["state_dict"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def partial_files(out_dir):
    return glob.glob(os.path.join(run_dir(out_dir), "*.part")) + glob.glob(os.path.join(run_dir(out_dir), ".*.part"))


def wait_for_line(process, prefix, timeout=120):
    """Read the script's output up to its first line starting with ``prefix``."""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if line.startswith(prefix):
            return
        assert time.monotonic() < deadline, f"no line starting with {prefix!r}"
    raise AssertionError(f"the script ended without a line starting with {prefix!r}")


def wait_for_training(process):
    wait_for_line(process, "precision:")  # printed just before the first epoch


def epochs_done(out_dir):
    last = os.path.join(run_dir(out_dir), "last.pt")
    return torch.load(last, weights_only=True)["epoch"] if os.path.exists(last) else 0


@pytest.fixture(scope="module")
def uninterrupted(tiny_synthetic, tmp_path_factory):
    """(final weights, seconds of training) of the run nothing interrupts."""
    out_dir = tmp_path_factory.mktemp("uninterrupted")
    process = start(tclr_args(tiny_synthetic, out_dir))
    wait_for_training(process)
    started = time.perf_counter()
    wait_for_line(process, "checkpoints:")  # printed after the last epoch's checkpoint
    seconds = time.perf_counter() - started
    code, _, err = finish(process)
    assert code == 0, err[-2000:]
    return weights(os.path.join(run_dir(out_dir), "last.pt")), seconds


def test_killed_at_random_moments_then_restarted_reaches_the_uninterrupted_weights(
    tiny_synthetic, tmp_path, uninterrupted
):
    reference, train_seconds = uninterrupted
    schedule = random.Random(0)
    kills, resumed_from = 0, []
    for attempt in range(12):
        restart = ["--restart"] if has_checkpoint(tmp_path) else []
        resumed_from.append(epochs_done(tmp_path))
        process = start(tclr_args(tiny_synthetic, tmp_path, *restart))
        if attempt < 4:  # four kills at random moments of the training that remains, then let it finish
            wait_for_training(process)
            remaining = train_seconds * (EPOCHS - resumed_from[-1]) / EPOCHS
            try:
                process.wait(timeout=schedule.uniform(0.05, 0.95) * remaining)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                kills += 1
        code, _, err = finish(process)
        if code == 0:
            break
        assert code == -signal.SIGKILL, err[-2000:]  # only our kills end a run here
    print(f"kills: {kills}, epochs done before each attempt: {resumed_from}")
    assert code == 0 and kills >= 3, (kills, resumed_from)
    assert_same_weights(weights(os.path.join(run_dir(tmp_path), "last.pt")), reference)
    assert epochs_done(tmp_path) == EPOCHS
    assert not partial_files(tmp_path)


def test_killed_during_a_checkpoint_write_resumes_from_the_last_complete_one(tiny_synthetic, tmp_path, uninterrupted):
    # writes: last.pt after epoch 1 (1), its per-epoch copy, best.pt; last.pt after epoch 2 is write 2
    code, _, _ = finish(start(tclr_args(tiny_synthetic, tmp_path), faults=["--kill_during_save", "2"]))
    assert code == -signal.SIGKILL
    last = os.path.join(run_dir(tmp_path), "last.pt")
    assert torch.load(last, weights_only=True)["epoch"] == 1  # the half-written epoch-2 file never replaced it
    assert partial_files(tmp_path)  # the half-written file is there, under a temporary name
    code, out, err = finish(start(tclr_args(tiny_synthetic, tmp_path, "--restart")))
    assert code == 0, err[-2000:]
    assert "resumed from" in out and "(epoch 1," in out and "left by a checkpoint write that did not finish" in out
    assert_same_weights(weights(last), uninterrupted[0])
    assert not partial_files(tmp_path)


@pytest.mark.parametrize("error, text", [("ENOSPC", "No space left on device"), ("EACCES", "Permission denied")])
def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint_and_says_so(tiny_synthetic, tmp_path, error, text):
    code, _, err = finish(start(tclr_args(tiny_synthetic, tmp_path), faults=["--fail_save", "2", "--errno", error]))
    assert code == 2
    message = err.strip().splitlines()[-1]
    last = os.path.join(run_dir(tmp_path), "last.pt")
    assert message.startswith("error: could not write") and text in message and f"is {last}" in message
    assert "Traceback" not in err
    assert torch.load(last, weights_only=True)["epoch"] == 1 and not partial_files(tmp_path)
    code, _, err = finish(start(tclr_args(tiny_synthetic, tmp_path, "--restart")))  # the disk has room again
    assert code == 0, err[-2000:]


def test_a_loss_that_turns_nan_stops_the_run_names_the_step_and_keeps_the_last_good_checkpoint(
    tiny_synthetic, tmp_path
):
    # 6 training videos at batch 2: 3 steps per epoch, so step 5 is in epoch 2
    code, _, err = finish(
        start(tclr_args(tiny_synthetic, tmp_path, "--max_nonfinite_steps", "2"), faults=["--nan_from_step", "5"])
    )
    assert code == 2 and "Traceback" not in err
    message = err.strip().splitlines()[-1]
    last = os.path.join(run_dir(tmp_path), "last.pt")
    assert "NaN/inf in 2 steps in a row, from step 5 (epoch 2)" in message and f"checkpoint: {last}" in message
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["step"] == 3
    assert all(torch.isfinite(v).all() for v in checkpoint["backbone"]["state_dict"].values() if v.is_floating_point())
