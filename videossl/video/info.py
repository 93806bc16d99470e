"""What a full decode of a video found: the verified facts every reader relies on."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class VideoInfo:
    """Facts about one video, from its packets where they are sure to be its frames, else
    verified by decoding it once from start to end.

    ``num_frames`` is the number of frames the decoder really produced (container headers
    over-report it on many AVIs). ``pts`` holds each frame's presentation timestamp in display
    order and ``keyframes`` the indices of key frames; together they let a reader seek and still
    know exactly which frame it decoded. ``pts`` is None when timestamps are missing or not
    unique, and readers then decode forward from the start. ``decode_error`` says that some
    packets failed to decode (a corrupt or truncated file); the ``num_frames`` frames that did
    decode are usable, and every read skips the same packets.
    """

    num_frames: int
    fps: Optional[float] = None
    height: int = 0
    width: int = 0
    header_frames: Optional[int] = None
    pts: Optional[list[int]] = None
    keyframes: list[int] = field(default_factory=list)
    decode_error: Optional[str] = None
    probe: str = "decoded"  # "packets", or "decoded (why packets were not enough)"

    def to_dict(self) -> dict:
        """A JSON-friendly dict; arithmetic timestamp sequences are stored as start and step."""
        d = {
            "num_frames": self.num_frames,
            "fps": self.fps,
            "height": self.height,
            "width": self.width,
            "header_frames": self.header_frames,
            "keyframes": list(self.keyframes),
            "decode_error": self.decode_error,
            "probe": self.probe,
        }
        if self.pts is None:
            d["pts"] = None
        else:
            evenly = start_and_step(self.pts)
            d["pts"] = {"start": evenly[0], "step": evenly[1]} if evenly else [int(t) for t in self.pts]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VideoInfo":
        pts = d.get("pts")
        if isinstance(pts, dict):
            pts = (pts["start"] + pts["step"] * np.arange(d["num_frames"], dtype=np.int64)).tolist()
        return cls(
            num_frames=int(d["num_frames"]),
            fps=d.get("fps"),
            height=int(d.get("height") or 0),
            width=int(d.get("width") or 0),
            header_frames=d.get("header_frames"),
            pts=pts,
            keyframes=list(d.get("keyframes") or []),
            decode_error=d.get("decode_error"),
            probe=d.get("probe") or "decoded",
        )


def start_and_step(pts: Sequence[int]) -> Optional[tuple[int, int]]:
    """(start, step) of evenly spaced timestamps (a single one has step 1), else None."""
    values = np.asarray(pts, dtype=np.int64)
    if len(values) == 0:
        return None
    steps = np.diff(values)
    if len(steps) and not np.all(steps == steps[0]):
        return None
    return int(values[0]), int(steps[0]) if len(steps) else 1


def clamp_indices(indices: Sequence[int], num_frames: int) -> np.ndarray:
    """Frame indices as an int64 array clamped into [0, num_frames - 1]."""
    if num_frames <= 0:
        raise ValueError("a video with no frames has no valid index")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    return np.clip(idx, 0, num_frames - 1)
