"""Atomic file writes: a file is either its old content or the complete new one, never a partial one.

Every write goes to ``.<name>.<pid>.part`` in the target's folder (one pattern, so
``remove_partial_writes`` finds what a killed process left), is flushed to disk, then renamed over
the target (a rename within one file system is atomic).
"""

import glob
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Callable

PART_GLOB = ".*.part"


def partial_path(path: str) -> str:
    """The temporary name a write of ``path`` goes through."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{os.getpid()}.part")


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields the temporary path to write; renamed to ``path`` when the block ends without error,
    removed otherwise."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_open(path: str, mode: str = "w") -> Iterator[IO]:
    """An open file whose content replaces ``path`` once complete and synced to disk."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def atomic_write_json(path: str, data: Any, **options: Any) -> str:
    with atomic_open(path) as f:
        json.dump(data, f, **options)
    return path


def atomic_copy(src: str, dst: str) -> str:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def remove_partial_writes(folder: str, log: Callable[[str], None] = print, what: str = "write") -> None:
    """Delete the temporary files of writes (``what``) that were killed before their rename: never
    complete, never read."""
    for path in glob.glob(os.path.join(folder, PART_GLOB)):
        log(f"removing {os.path.basename(path)}, left by a {what} that did not finish")
        os.remove(path)
