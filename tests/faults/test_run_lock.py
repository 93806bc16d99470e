"""One run per run directory: a second run is refused with one line naming the holder; a lock left
by a killed run (its process gone, or no heartbeat) is taken over."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from videossl.engine.run_lock import LOCK_NAME, RunLock
from videossl.errors import UserError


def plant_lock(folder, pid, host=None, age=0.0):
    path = folder / LOCK_NAME
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": "2026-01-01 00:00:00"}))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def live_process():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_live_run_holds_its_directory(tmp_path):
    holder = live_process()
    try:
        plant_lock(tmp_path, holder.pid)
        with pytest.raises(UserError) as err:
            RunLock(str(tmp_path), log=lambda m: None).acquire()
        message = str(err.value)
        assert f"in use by process {holder.pid} on {socket.gethostname()}" in message
        assert "started 2026-01-01 00:00:00" in message and "\n" not in message
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_runs_lock_is_taken_over_and_released(tmp_path):
    holder = live_process()
    holder.kill()
    holder.wait()
    plant_lock(tmp_path, holder.pid)
    notes = []
    lock = RunLock(str(tmp_path), log=notes.append).acquire()
    assert "process" in notes[0] and "is gone" in notes[0]
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_from_another_host_is_taken_over_only_without_heartbeat(tmp_path):
    plant_lock(tmp_path, 1, host="node-elsewhere", age=10)
    with pytest.raises(UserError, match="node-elsewhere"):
        RunLock(str(tmp_path), stale_after=300, log=lambda m: None).acquire()
    plant_lock(tmp_path, 1, host="node-elsewhere", age=600)
    notes = []
    RunLock(str(tmp_path), stale_after=300, log=notes.append).acquire().release()
    assert "no heartbeat for 600 s" in notes[0]


def test_the_holder_keeps_its_heartbeat(tmp_path):
    lock = RunLock(str(tmp_path), heartbeat=0.05, log=lambda m: None).acquire()
    path = tmp_path / LOCK_NAME
    os.utime(path, (time.time() - 1000, time.time() - 1000))
    time.sleep(0.3)
    assert time.time() - path.stat().st_mtime < 5
    lock.release()


def test_a_second_pretraining_run_in_the_same_directory_is_one_line(tiny_synthetic, tmp_path):
    from tests.helpers import tiny_run_args

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    holder = live_process()
    try:
        folder = tmp_path / "ss_saved_models" / "tiny"
        folder.mkdir(parents=True)
        plant_lock(folder, holder.pid)
        argv = tiny_run_args(tiny_synthetic, str(tmp_path), {"epochs": 1, "batch_size": 2})
        done = subprocess.run(
            [sys.executable, os.path.join(root, "cvrl", "train.py"), *argv], capture_output=True, text=True, timeout=300
        )
    finally:
        holder.kill()
        holder.wait()
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and f"in use by process {holder.pid}" in errors[0]
    assert "Traceback" not in done.stderr
