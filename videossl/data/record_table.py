"""An index's records as a few flat numpy arrays, for the data-loader workers.

A list of per-video Python objects (paths, labels, each video's timestamps and key frames) grows
in every forked worker: reading an object writes its reference count, which copies the memory page
it lives on into the worker, so over an epoch each worker ends up with its own copy of the index.
Numpy arrays are a handful of objects whatever the number of videos; ``RecordTable[i]`` builds
the ``VideoRecord`` of video ``i`` from them when a sample needs it.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import Optional

import numpy as np

from videossl.data.indexes import VideoRecord
from videossl.video.info import VideoInfo, start_and_step

_NONE = -1  # an absent count in the integer columns
_PTS_NONE, _PTS_STEP, _PTS_LIST = 0, 1, 2  # no usable timestamps; start + step * i; listed


def _packed(rows: list[np.ndarray], dtype) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length rows as (values, offsets): row i is values[offsets[i]:offsets[i + 1]]."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(row) for row in rows])
    values = np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
    return values, offsets


class RecordTable(Sequence):
    """The ``VideoRecord``s of an index, stored column by column."""

    def __init__(self, records: Iterable[VideoRecord]) -> None:
        records = list(records)
        encoded = [np.frombuffer(r.path.encode("utf-8", "surrogateescape"), dtype=np.uint8) for r in records]
        self._paths, self._path_offsets = _packed(encoded, np.uint8)
        self.labels = np.array([r.label for r in records], dtype=np.int64)
        self._listed = np.array([_count(r.listed_frames) for r in records], dtype=np.int64)
        infos = [r.info for r in records]
        self.num_frames = np.array([_count(i and i.num_frames) for i in infos], dtype=np.int64)
        self._fps = np.array([i.fps if i and i.fps else np.nan for i in infos], dtype=np.float64)
        self._size = np.array([(i.height, i.width) if i else (0, 0) for i in infos], dtype=np.int32).reshape(-1, 2)
        self._header = np.array([_count(i and i.header_frames) for i in infos], dtype=np.int64)
        self._pts_kind = np.zeros(len(records), dtype=np.int8)
        self._pts_step = np.zeros((len(records), 2), dtype=np.int64)
        listed = []
        for n, info in enumerate(infos):
            listed.append(self._store_pts(n, info))
        self._pts, self._pts_offsets = _packed(listed, np.int64)
        self._keys, self._key_offsets = _packed([np.asarray(i.keyframes if i else []) for i in infos], np.int32)
        spans = [np.asarray(r.actions, dtype=np.float64).reshape(-1) for r in records]
        self._actions, self._action_offsets = _packed(spans, np.float64)  # (label, start, end) triples
        # the few strings: why a video is unreadable, its decoding errors, how it was probed
        self._errors = {n: r.error for n, r in enumerate(records) if r.error}
        self._decode_errors = {n: i.decode_error for n, i in enumerate(infos) if i and i.decode_error}
        self._probe_names = sorted({i.probe for i in infos if i})
        code = {name: k for k, name in enumerate(self._probe_names)}
        self._probe = np.array([code[i.probe] if i else -1 for i in infos], dtype=np.int16)

    def _store_pts(self, n: int, info: Optional[VideoInfo]) -> np.ndarray:
        """Evenly spaced timestamps as a start and a step; others as a row of the packed array."""
        if info is None or info.pts is None:
            return np.zeros(0, np.int64)
        evenly = start_and_step(info.pts)
        if evenly is not None:
            self._pts_kind[n] = _PTS_STEP
            self._pts_step[n] = evenly
            return np.zeros(0, np.int64)
        self._pts_kind[n] = _PTS_LIST
        return np.asarray(info.pts, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def path(self, i: int) -> str:
        start, end = self._path_offsets[i], self._path_offsets[i + 1]
        return self._paths[start:end].tobytes().decode("utf-8", "surrogateescape")

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"record {i} of {len(self)}")
        listed = int(self._listed[i])
        return VideoRecord(
            path=self.path(i),
            label=int(self.labels[i]),
            info=self._info(i),
            error=self._errors.get(i),
            listed_frames=None if listed == _NONE else listed,
            actions=self.actions(i),
        )

    def actions(self, i: int) -> tuple[tuple[int, float, float], ...]:
        row = self._actions[self._action_offsets[i] : self._action_offsets[i + 1]].reshape(-1, 3)
        return tuple((int(label), float(start), float(end)) for label, start, end in row)

    def __iter__(self) -> Iterator[VideoRecord]:
        return (self[i] for i in range(len(self)))

    def _info(self, i: int) -> Optional[VideoInfo]:
        frames = int(self.num_frames[i])
        if frames == _NONE:
            return None
        kind = self._pts_kind[i]
        if kind == _PTS_STEP:
            start, step = self._pts_step[i]
            pts = (start + step * np.arange(frames, dtype=np.int64)).tolist()
        elif kind == _PTS_LIST:
            pts = self._pts[self._pts_offsets[i] : self._pts_offsets[i + 1]].tolist()
        else:
            pts = None
        header = int(self._header[i])
        return VideoInfo(
            num_frames=frames,
            fps=None if np.isnan(self._fps[i]) else float(self._fps[i]),
            height=int(self._size[i, 0]),
            width=int(self._size[i, 1]),
            header_frames=None if header == _NONE else header,
            pts=pts,
            keyframes=self._keys[self._key_offsets[i] : self._key_offsets[i + 1]].tolist(),
            decode_error=self._decode_errors.get(i),
            probe=self._probe_names[self._probe[i]],
        )

    def nbytes(self) -> int:
        """Bytes held by the arrays (the strings of the few unreadable videos aside)."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))


def _count(value: Optional[int]) -> int:
    return _NONE if value is None else int(value)
