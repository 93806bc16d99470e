"""Verified frame counts for a whole index, probed once and cached on disk.

Every video is decoded once from start to end (``videossl.video.probe_video``); the result
(true frame count, timestamps, key frames, or why the video cannot be read) is cached in a JSON
file per dataset root, keyed by absolute path and invalidated when a file's size or
modification time changes. Later runs read the cache in well under a second.
"""

import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Optional

from videossl.atomic import atomic_write_json
from videossl.data.indexes import DatasetIndex
from videossl.errors import DecodeTimeout, VideoReadError
from videossl.video import probe_video
from videossl.video.info import VideoInfo
from videossl.video.time_limit import DEFAULT_DECODE_TIMEOUT, decode_time_limit


def default_cache_dir() -> str:
    return os.environ.get("VIDEOSSL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "videossl")


def file_stamp(path: str) -> list[int]:
    """[size, modification time]: a rewritten file gets a new stamp."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


class ProbeCache:
    def __init__(self, path: str, warn: bool = True) -> None:
        self.path = path
        self.entries = {}
        if os.path.exists(path):
            try:
                with open(path) as f:
                    self.entries = json.load(f)
                if not isinstance(self.entries, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError) as err:  # a damaged cache is only a slower start
                if warn:
                    print(f"warning: probing again, the probe cache {path} is unreadable ({err})", file=sys.stderr)
                self.entries = {}

    def lookup(self, path: str) -> Optional[tuple[Optional[VideoInfo], Optional[str]]]:
        """(VideoInfo or None, error or None), or None when not cached or stale."""
        entry = self.entries.get(path)
        try:
            if entry is None or entry["stamp"] != file_stamp(path):
                return None
        except OSError:
            return None
        try:
            info = VideoInfo.from_dict(entry["info"]) if entry.get("info") else None
        except (KeyError, TypeError, ValueError):  # written by another version: probe again
            return None
        return info, entry.get("error")

    def store(self, path: str, info: Optional[VideoInfo], error: Optional[str]) -> None:
        try:
            stamp = file_stamp(path)
        except OSError:
            return  # missing files are not cached
        self.entries[path] = {"stamp": stamp, "info": info.to_dict() if info else None, "error": error}

    def save(self) -> None:
        # Merge with what another process may have written since we read the file.
        merged = ProbeCache(self.path, warn=False).entries
        merged.update(self.entries)
        atomic_write_json(self.path, merged)


def probe_one(path: str, timeout: float = DEFAULT_DECODE_TIMEOUT) -> tuple[str, Optional[dict], Optional[str], bool]:
    """(path, info dict or None, error or None, timed out): picklable, for worker processes."""
    try:
        with decode_time_limit(timeout, path):
            return path, probe_video(path).to_dict(), None, False
    except VideoReadError as err:
        return path, None, err.reason, isinstance(err, DecodeTimeout)


def cache_file_for(root: str, cache_dir: Optional[str] = None) -> str:
    key = hashlib.sha1(os.path.abspath(root).encode()).hexdigest()[:16]
    return os.path.join(cache_dir or default_cache_dir(), "probe", f"{key}.json")


def verify_frame_counts(
    index: DatasetIndex, cache_dir: Optional[str] = None, workers: Optional[int] = None, progress: bool = True
) -> DatasetIndex:
    """Fill ``info`` (or ``error``) of every record of the index; returns the index.

    Unreadable videos stay in the index with their error: datasets skip them when drawn, log
    and count them. ``workers`` processes probe in parallel (default: all cores; 0 = in process);
    a video whose decoding takes longer than ``index.decode_timeout`` seconds counts as unreadable.
    """
    cache = ProbeCache(cache_file_for(index.root, cache_dir))
    todo = []
    for record in index.records:
        hit = cache.lookup(record.path)
        if hit is None:
            todo.append(record.path)
        else:
            record.info, record.error = hit
    if todo:
        results = _probe_all(todo, workers, progress, index.decode_timeout)
        by_path = {}
        for path, info, error, timed_out in results:
            info = VideoInfo.from_dict(info) if info else None
            if not timed_out:  # a slow machine or a small --decode_timeout is no verdict on the file
                cache.store(path, info, error)
            by_path[path] = (info, error)
        for record in index.records:
            if record.path in by_path:
                record.info, record.error = by_path[record.path]
        cache.save()
    bad = [r for r in index.records if r.error]
    if bad:
        first = "; ".join(f"{r.path}: {r.error}" for r in bad[:3])
        print(
            f"warning: {len(bad)} of {len(index)} {index.dataset} {index.subset} videos cannot be read and will "
            f"be skipped (first: {first})",
            file=sys.stderr,
        )
    return index


def _probe_all(paths, workers, progress, timeout):
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), desc="verifying frame counts", unit="video")
    results = []
    if workers and len(paths) > 8:
        with ProcessPoolExecutor(workers) as pool:
            for result in pool.map(partial(probe_one, timeout=timeout), paths, chunksize=4):
                results.append(result)
                if bar:
                    bar.update()
    else:
        for path in paths:
            results.append(probe_one(path, timeout))
            if bar:
                bar.update()
    if bar:
        bar.close()
    return results
