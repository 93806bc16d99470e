"""The interface every video reader implements."""

import abc
import math
from collections.abc import Sequence
from typing import Optional

import numpy as np

from videossl.video.info import VideoInfo, clamp_indices


class VideoReader(abc.ABC):
    """Decodes only the requested frames of one video.

    ``get_frames(indices)`` returns uint8 RGB frames ``[T, H, W, 3]`` in the order asked, with
    repeated indices allowed and every index clamped into the video. ``exact`` says whether the
    backend guarantees that frame ``i`` is the ``i``-th frame a full decode produces.
    """

    exact = True

    def __init__(self, path: str, info: VideoInfo) -> None:
        self.path = str(path)
        self.info = info

    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    @property
    def fps(self) -> Optional[float]:
        return self.info.fps

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        idx = clamp_indices(indices, self.num_frames)
        wanted = np.unique(idx)
        decoded = self._decode(wanted)
        return np.stack([decoded[int(i)] for i in idx])

    @abc.abstractmethod
    def _decode(self, wanted):
        """Return {frame index: uint8 [H, W, 3] RGB} for each index in the sorted array."""

    def close(self) -> None:  # noqa: B027 - readers without resources to release keep this no-op
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ResampledReader:
    """A reader's video as if it had been recorded at ``fps``: frame ``k`` is the source frame on
    screen at time ``k / fps``, frame ``int(k * source fps / fps)`` (how SEVERE decodes its clips at
    16 fps). Frames of an unknown rate (a frame folder) are taken as recorded at ``fps`` already
    (Charades' frame release is at 24 fps)."""

    def __init__(self, reader: VideoReader, fps: float) -> None:
        self.reader = reader
        self.ratio = reader.fps / fps if reader.fps else 1.0
        self.fps = fps
        self.num_frames = max(1, math.ceil(reader.num_frames / self.ratio - 1e-9))

    def source_indices(self, indices: Sequence[int]) -> np.ndarray:
        wanted = np.floor(np.asarray(indices, dtype=np.float64) * self.ratio).astype(np.int64)
        return np.clip(wanted, 0, self.reader.num_frames - 1)

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        return self.reader.get_frames(self.source_indices(indices))
