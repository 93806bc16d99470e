"""A DDP process that dies: the other one stops within --dist_timeout with one line naming the
rank that stopped and the newest complete checkpoint, also without torchrun's agent (the
environment set per process, as srun launches tasks); --restart then resumes."""

import signal
import time

from tests.faults import toy_job
from videossl.models.checkpoint import read_checkpoint_file

TIMEOUT = ("--dist_timeout", "8")


def survivor_error(survivor):
    err = survivor.communicate(timeout=120)[1]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert survivor.returncode == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert "rank 0: the process group failed at step 5: rank 1 stopped" in errors[0] and "ckpt/last.pt" in errors[0]
    return errors[0]


def test_a_killed_rank_stops_the_other_at_once_and_restart_resumes(tmp_path):
    ranks = toy_job.start(tmp_path, 2, TIMEOUT, SIGNAL="SIGKILL", SIGNAL_AT_STEP="5", SIGNAL_RANK="1")
    ranks[1].wait(timeout=120)
    died = time.monotonic()
    survivor_error(ranks[0])
    assert ranks[1].returncode == -signal.SIGKILL and time.monotonic() - died < 8  # the closed connection tells
    assert read_checkpoint_file(str(tmp_path / "ckpt" / "last.pt"))["epoch"] == 1

    (restart,) = toy_job.start(tmp_path, 1, ("--restart",))
    err = restart.communicate(timeout=300)[1]
    assert restart.returncode == 0, err
    assert read_checkpoint_file(str(tmp_path / "ckpt" / "last.pt"))["epoch"] == 3


def test_an_unresponsive_rank_stops_the_other_after_the_timeout(tmp_path):
    # a stopped process keeps its connections open, as a node that hangs or drops off the network
    ranks = toy_job.start(tmp_path, 2, TIMEOUT, SIGNAL="SIGSTOP", SIGNAL_AT_STEP="5", SIGNAL_RANK="1")
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
