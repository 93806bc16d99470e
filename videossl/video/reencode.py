"""Re-encoding a dataset for fast, exact loading: a smaller short side, no B-frames, short GOPs."""

import os
from typing import Optional

import cv2
import numpy as np

from videossl.errors import VideoReadError
from videossl.video import open_video, probe_video
from videossl.video.writer import write_video


def resized_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    if min(height, width) <= short_side:
        return height, width
    scale = short_side / min(height, width)
    return int(round(height * scale)) // 2 * 2, int(round(width * scale)) // 2 * 2


def reencode_video(src: str, dst: str, short_side: int = 128, gop: int = 8, max_quantizer: int = 4) -> int:
    """Decode ``src`` exactly and write ``dst`` (same container type as its extension)."""
    info = probe_video(src)
    height, width = resized_shape(info.height, info.width, short_side)
    with open_video(src, info=info) as reader:

        def frames():
            for start in range(0, info.num_frames, 64):
                chunk = reader.get_frames(np.arange(start, min(start + 64, info.num_frames)))
                for frame in chunk:
                    yield (
                        frame
                        if frame.shape[:2] == (height, width)
                        else cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                    )

        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        write_video(dst, frames(), fps=info.fps or 25, bframes=0, gop=gop, max_quantizer=max_quantizer)
    return info.num_frames


def reencode_one(args: tuple[str, str, int, int, int]) -> tuple[str, Optional[int], Optional[str]]:
    """Worker entry: (src, dst, short_side, gop, max_quantizer) -> (src, frames or None, error or None)."""
    src, dst, short_side, gop, max_quantizer = args
    try:
        return src, reencode_video(src, dst, short_side, gop, max_quantizer), None
    except VideoReadError as err:
        return src, None, err.reason
