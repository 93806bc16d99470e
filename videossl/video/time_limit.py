"""A per-video time limit on decoding, so that one pathological file cannot hang an epoch.

``decode_time_limit(seconds, path)`` raises ``DecodeTimeout`` (a ``VideoReadError``) when its
body runs longer than ``seconds``: datasets then skip the video like any unreadable one. It uses ``SIGALRM`` and so
works in a process's main thread, which is where data-loader workers, probe worker processes
and ``--num_workers 0`` runs decode; elsewhere (a thread, Windows) it does nothing. The alarm
interrupts Python code between decoder calls, i.e. between packets: a single FFmpeg call that
never returns cannot be interrupted from inside its own process.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from videossl.errors import DecodeTimeout

DEFAULT_DECODE_TIMEOUT = 120.0  # seconds per video; a UCF101/Kinetics video decodes in well under 1 s


class _Expired(BaseException):
    """Raised by the alarm. A BaseException, so that the decoders' own ``except`` clauses for
    FFmpeg/OS errors cannot swallow it and carry on."""


def _usable():
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def decode_time_limit(seconds: Optional[float], path: str) -> Iterator[None]:
    if not seconds or seconds <= 0 or not _usable():
        yield
        return

    fired = []

    def expire(signum, frame):
        fired.append(True)
        raise _Expired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # an alarm firing in here is still caught below
    except (_Expired, Exception):
        if not fired:
            raise
        # The alarm may also surface as the decoder's own error: a system call it interrupted
        # (EINTR, e.g. opening a file on a hung network mount) fails with InterruptedError.
        raise DecodeTimeout(path, f"decoding took longer than {seconds:g} s (--decode_timeout)") from None
    finally:
        signal.signal(signal.SIGALRM, previous)
