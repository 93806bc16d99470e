"""Verified frame counts for a whole index, probed once and cached on disk.

Each video is probed from its packets where they are sure to be its frames, else decoded once
(``videossl.video.probe_video``). Results go to one cache folder per dataset root, as JSON lines
in one file per writing process, appended as each video is probed: an interrupted probe resumes
where it stopped, and the processes of a multi-node run (each probing its share of the videos)
fill one cache without locks. An entry is keyed by absolute path and is stale once the file's
size or modification time changes. Finished files are merged into one now and then.
"""

import contextlib
import glob
import hashlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Optional

from videossl.atomic import atomic_open
from videossl.data.indexes import DatasetIndex
from videossl.errors import DecodeTimeout, VideoReadError
from videossl.processes import process_alive
from videossl.video import probe_video
from videossl.video.info import VideoInfo
from videossl.video.time_limit import DEFAULT_DECODE_TIMEOUT, decode_time_limit

CACHE_VERSION = 2  # entries written by another version are probed again
FINISHED_AFTER_SECONDS = 600  # a cache file nobody appended to for this long belongs to a finished probe
REFRESH_SECONDS = 5.0  # how often a process of a multi-process probe reads what the others cached
_WRITING = set()  # names of the cache files this process has open


def default_cache_dir() -> str:
    return os.environ.get("VIDEOSSL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "videossl")


def cache_folder_for(root: str, cache_dir: Optional[str] = None) -> str:
    key = hashlib.sha1(os.fsencode(os.path.abspath(root))).hexdigest()[:16]
    return os.path.join(cache_dir or default_cache_dir(), "probe", key)


def file_stamp(path: str) -> list[int]:
    """[size, modification time]: a rewritten file gets a new stamp."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


class ProbeCache:
    """The probe results of one dataset root: ``*.jsonl`` files in ``folder``, one line per video."""

    def __init__(self, folder: str, warn: bool = True) -> None:
        self.folder = folder
        self.warn = warn
        self.entries = {}
        self.damaged = 0  # unreadable lines seen (a merge drops them)
        self.unwritable = False
        self._parsed = {}  # file -> bytes parsed so far
        # a new file per cache object: never appended to a file an earlier process may have left cut
        self._own_name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._own = None
        self.refresh()

    def files(self) -> list[str]:
        return sorted(glob.glob(os.path.join(glob.escape(self.folder), "*.jsonl")))

    def refresh(self) -> int:
        """Read what other processes appended since the last call; returns the number of new entries."""
        new = damaged = 0
        for path in self.files():
            if os.path.basename(path) == self._own_name:
                continue
            start = self._parsed.get(path, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read()
            except OSError:  # merged away meanwhile
                continue
            end = data.rfind(b"\n") + 1  # a line still being written is read next time
            for line in data[:end].splitlines():
                entry = _parse(line)
                if entry is None:
                    damaged += 1
                elif entry["v"] == CACHE_VERSION and _replaces(entry, self.entries.get(entry["path"])):
                    self.entries[entry["path"]] = entry
                    new += 1
            self._parsed[path] = start + end
        self.damaged += damaged
        if damaged and self.warn:
            message = f"warning: {damaged} damaged lines in the probe cache {self.folder}: probing those again"
            print(message, file=sys.stderr)
        return new

    def lookup(self, path: str, probe: str = "packets") -> Optional[tuple[Optional[VideoInfo], Optional[str]]]:
        """(VideoInfo or None, error or None), or None when not cached, stale, or from packets when
        ``probe`` is "decode"."""
        entry = self.entries.get(path)
        try:
            if entry is None or entry["stamp"] != file_stamp(path) or (probe == "decode" and not _decoded(entry)):
                return None
            info = VideoInfo.from_dict(entry["info"]) if entry.get("info") else None
        except (OSError, KeyError, TypeError, ValueError):  # gone, or written by another version
            return None
        return info, entry.get("error")

    def store(self, path: str, info: Optional[VideoInfo], error: Optional[str]) -> None:
        """Keep the result and append it to this process's file at once (an interruption loses none)."""
        try:
            stamp = file_stamp(path)
        except OSError:
            return  # missing files are not cached
        entry = {"v": CACHE_VERSION, "path": path, "stamp": stamp, "info": info.to_dict() if info else None}
        entry["error"] = error
        self.entries[path] = entry
        if self.unwritable:
            return
        try:
            if self._own is None:
                os.makedirs(self.folder, exist_ok=True)
                self._own = open(os.path.join(self.folder, self._own_name), "a")
                _WRITING.add(self._own_name)
            self._own.write(json.dumps(entry) + "\n")
            self._own.flush()
        except OSError as err:  # a read-only or full cache folder: this run probes without caching
            self.unwritable = True
            print(
                f"warning: cannot write the probe cache in {self.folder} ({err.strerror}): not cached", file=sys.stderr
            )

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None
            _WRITING.discard(self._own_name)

    def merge(self) -> None:
        """Write every entry into one file and remove the files it replaces: this process's, merged
        ones and those of finished probes, each only if it was read (never a file another probe is
        still appending to, or one that appeared since). A folder this process cannot write is left
        as it is."""
        self.close()
        self.refresh()
        replaced = [path for path in self.files() if self._finished(path) and self._was_read(path)]
        if not self.damaged and len(replaced) <= 1 and all(os.path.basename(p).startswith("merged-") for p in replaced):
            return
        target = os.path.join(self.folder, f"merged-{uuid.uuid4().hex[:12]}.jsonl")
        try:
            with atomic_open(target) as f:
                for entry in self.entries.values():
                    f.write(json.dumps(entry) + "\n")
            for path in replaced:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                self._parsed.pop(path, None)
        except OSError:
            return
        self._parsed[target] = os.path.getsize(target)

    def _was_read(self, path: str) -> bool:
        """Whether this object has read the file (one written after the last refresh has not)."""
        return path in self._parsed or os.path.basename(path) == self._own_name

    def _finished(self, path: str) -> bool:
        name = os.path.basename(path)
        if name.startswith("merged-") or name == self._own_name:
            return True
        host, pid, _ = (name[: -len(".jsonl")].rsplit("-", 2) + ["", ""])[:3]
        if host == socket.gethostname() and pid.isdigit():
            mine = int(pid) == os.getpid()
            if (mine and name not in _WRITING) or (not mine and not process_alive(int(pid))):
                return True
        try:
            return time.time() - os.path.getmtime(path) > FINISHED_AFTER_SECONDS
        except OSError:
            return False


def _parse(line: bytes) -> Optional[dict]:
    try:
        entry = json.loads(line)
        if isinstance(entry, dict) and isinstance(entry["path"], str):
            entry.setdefault("v", None)
            return entry
    except (ValueError, KeyError, TypeError):
        pass
    return None


def _decoded(entry: dict) -> bool:
    return not entry.get("info") or entry["info"].get("probe") != "packets"


def _replaces(entry: dict, old: Optional[dict]) -> bool:
    """Whether ``entry`` replaces ``old`` of the same video: a packet probe never replaces a decode
    of the same file (``--probe decode`` asked for it)."""
    return old is None or old.get("stamp") != entry.get("stamp") or _decoded(entry) or not _decoded(old)


def probe_one(
    path: str, timeout: float = DEFAULT_DECODE_TIMEOUT, probe: str = "packets"
) -> tuple[str, Optional[dict], Optional[str], bool]:
    """(path, info dict or None, error or None, timed out): picklable, for worker processes."""
    try:
        with decode_time_limit(timeout, path):
            return path, probe_video(path, probe).to_dict(), None, False
    except VideoReadError as err:
        return path, None, err.reason, isinstance(err, DecodeTimeout)


def verify_frame_counts(
    index: DatasetIndex,
    cache_dir: Optional[str] = None,
    workers: Optional[int] = None,
    progress: bool = True,
    probe: str = "packets",
) -> DatasetIndex:
    """Fill ``info`` (or ``error``) of every record of the index; returns the index.

    Unreadable videos stay in the index with their error: datasets skip them when drawn, log and
    count them. ``workers`` processes probe in parallel (default: this process's share of the
    cores; 0 = in process); a video whose probe takes longer than ``index.decode_timeout`` seconds
    counts as unreadable and is not cached. Under torchrun (RANK, WORLD_SIZE) each process probes
    its share first, then whatever the others have not cached yet.
    """
    cache = ProbeCache(cache_folder_for(index.root, cache_dir))
    found = {}
    for record in index.records:
        hit = cache.lookup(record.path, probe)
        if hit is not None:
            found[record.path] = hit
    todo = [record.path for record in index.records if record.path not in found]
    if todo:
        started = time.perf_counter()
        try:
            all_paths = [record.path for record in index.records]
            probed = _probe_shared(all_paths, set(todo), cache, workers, progress, index.decode_timeout, probe)
        finally:
            cache.close()
        found.update(probed)
        if progress:  # beside the progress bar, not in the command's output
            print(probe_summary([info for info, _ in probed.values()], time.perf_counter() - started), file=sys.stderr)
    if int(os.environ.get("RANK", "0")) == 0 and (cache.damaged or len(cache.files()) > 1):
        cache.merge()
    for record in index.records:
        record.info, record.error = found[record.path]
    _warn_unreadable(index)
    return index


def probe_summary(infos: Iterable[Optional[VideoInfo]], seconds: float) -> str:
    """'probed N readable videos in S s: P from their packets, D decoded (why), ...'."""
    infos = [info for info in infos if info is not None]
    reasons = {}
    for info in infos:
        if info.probe != "packets":
            reasons[info.probe] = reasons.get(info.probe, 0) + 1
    packets = len(infos) - sum(reasons.values())
    text = f"probed {len(infos)} readable videos in {seconds:.1f} s: {packets} from their packets"
    if reasons:
        by_count = sorted(reasons.items(), key=lambda kv: -kv[1])
        text += ", " + ", ".join(f"{count} {reason}" for reason, count in by_count)
    return text


def _warn_unreadable(index: DatasetIndex) -> None:
    bad = [r for r in index.records if r.error]
    if bad:
        first = "; ".join(f"{r.path}: {r.error}" for r in bad[:3])
        print(
            f"warning: {len(bad)} of {len(index)} {index.dataset} {index.subset} videos cannot be read and will "
            f"be skipped (first: {first})",
            file=sys.stderr,
        )


def _probe_shared(all_paths, todo, cache, workers, progress, timeout, probe) -> dict:
    """Probe the paths of ``todo`` into the cache: this process's share of the index first (every
    WORLD_SIZE-th video from its RANK), then the next processes' shares, skipping what another
    process has cached meanwhile."""
    rank, world = int(os.environ.get("RANK", "0")), max(1, int(os.environ.get("WORLD_SIZE", "1")))
    order = [path for r in range(world) for path in all_paths[(rank + r) % world :: world] if path in todo]
    results = {}
    last_refresh = [time.monotonic()]

    def cached_meanwhile(path):
        if world > 1 and time.monotonic() - last_refresh[0] >= REFRESH_SECONDS:
            cache.refresh()
            last_refresh[0] = time.monotonic()
        hit = cache.lookup(path, probe) if world > 1 else None
        if hit is not None:
            results[path] = hit
        return hit is not None

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(order), desc="probing videos", unit="video", smoothing=0.05)
    job = partial(probe_one, timeout=timeout, probe=probe)
    for path, info, error, timed_out in _run(job, order, _default_workers(workers), cached_meanwhile):
        info = VideoInfo.from_dict(info) if info else None
        if not timed_out:  # a slow machine or a small --decode_timeout is no verdict on the file
            cache.store(path, info, error)
        results[path] = (info, error)
        if bar:
            bar.n = len(results)
            bar.refresh()
    if bar:
        bar.close()
    return results


def _default_workers(workers: Optional[int]) -> int:
    if workers is not None:
        return workers
    per_node = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(16, (os.cpu_count() or 1) // per_node))


def _run(job, paths, workers, skip) -> Iterator[tuple]:
    """``job(path)`` for each path not ``skip``ped (asked just before it is submitted), in order."""
    if not workers or len(paths) <= 8:
        for path in paths:
            if not skip(path):
                yield job(path)
        return
    with ProcessPoolExecutor(workers) as pool:
        in_flight = []
        for path in paths:
            if skip(path):
                continue
            in_flight.append(pool.submit(job, path))
            if len(in_flight) >= 8 * workers:
                yield in_flight.pop(0).result()
        for future in in_flight:
            yield future.result()
