"""The interface every video reader implements."""

import abc
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
