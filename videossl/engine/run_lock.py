"""One run per run directory: a lock file naming its holder (pid, host, start time), refreshed by a
heartbeat so that a lock left by a killed run is recognised on any machine.

A lock is stale, and taken over, when its process is gone (same host), when its heartbeat is older
than ``stale_after`` seconds (any host: a job requeued onto another node), or when it is this
process's own.
"""

import json
import os
import socket
import threading
import time
from typing import Callable, Optional

from videossl.errors import UserError
from videossl.processes import process_alive

LOCK_NAME = "run.lock"


def _stale_reason(holder: dict, age: float, stale_after: float) -> Optional[str]:
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        return "held by this process"
    if holder.get("host") == socket.gethostname() and not process_alive(int(holder.get("pid", -1))):
        return f"process {holder.get('pid')} is gone"
    if age > stale_after:
        return f"no heartbeat for {age:.0f} s"
    return None


class RunLock:
    """``acquire()`` or a one-line ``UserError`` naming the holder; ``release()`` when done."""

    def __init__(self, folder: str, heartbeat: float = 30.0, stale_after: float = 300.0, log: Callable = print) -> None:
        self.path = os.path.join(folder, LOCK_NAME)
        self.heartbeat, self.stale_after, self.log = heartbeat, stale_after, log
        self._stop = threading.Event()
        self._thread = None

    def acquire(self) -> "RunLock":
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):  # a second try after removing a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(holder, f)
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
            return self
        raise UserError(f"{self.path}: another process took the run directory while this one started")

    def _take_over_if_stale(self):
        try:
            with open(self.path) as f:
                holder = json.load(f)
            age = time.time() - os.path.getmtime(self.path)
        except (OSError, ValueError):  # half-written or vanished: its writer died at once
            holder, age = {}, float("inf")
        reason = _stale_reason(holder, age, self.stale_after)
        if reason is None:
            raise UserError(
                f"{os.path.dirname(self.path)} is in use by process {holder.get('pid')} on {holder.get('host')} "
                f"(started {holder.get('started')}, heartbeat {age:.0f} s ago); wait for it, or use another "
                f"--run_id (a lock without heartbeat for {self.stale_after:.0f} s is taken over)"
            )
        self.log(f"note: taking over the run lock of process {holder.get('pid')} on {holder.get('host')} ({reason})")
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
