"""Writing real video files with PyAV: the synthetic dataset, re-encoded datasets, t-SNE videos.

``.avi`` files are MPEG-4 Part 2 tagged XVID, like UCF101's, with B-frames and a key frame
every ``gop`` frames by default: the layout on which naive seeking returns wrong frames, so the
synthetic data exercises the hard case. ``.mp4`` files are H.264 when libx264 is available.
"""

import os
from collections.abc import Iterable
from typing import Optional, Union

import av
import numpy as np

from videossl.atomic import atomic_path


def _even(n):
    return n - (n % 2)


def write_video(
    path: str,
    frames: Union[np.ndarray, Iterable[np.ndarray]],
    fps: float = 25,
    bframes: int = 2,
    gop: int = 12,
    max_quantizer: Optional[int] = None,
    codec: Optional[str] = None,
) -> str:
    """Write uint8 RGB frames ``[T, H, W, 3]`` (an array or an iterable of arrays) to ``path``.

    Sizes are cropped to even numbers (yuv420p needs them). ``max_quantizer`` caps the MPEG-4
    quantiser (2 = near lossless, 31 = worst); H.264 uses a matching CRF. The encoder is
    single-threaded, so the output bytes are deterministic.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if codec is None:
        codec = "libx264" if ext in (".mp4", ".mkv") and "libx264" in av.codec.codecs_available else "mpeg4"
    iterator = iter(frames)
    first = np.asarray(next(iterator))
    height, width = _even(first.shape[0]), _even(first.shape[1])
    options = {"g": str(gop), "bf": str(bframes)}
    if codec == "libx264":
        options["crf"] = str(max_quantizer if max_quantizer is not None else 18)
    elif max_quantizer is not None:
        options.update(qmin="2", qmax=str(max_quantizer))
    container_format = {".avi": "avi", ".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}.get(ext)
    if container_format is None:
        raise ValueError(f"cannot write {path!r}: use .avi, .mp4, .mkv or .mov")
    with atomic_path(path) as tmp:  # a killed write never leaves a broken video under the real name
        container = av.open(tmp, mode="w", format=container_format)
        try:
            stream = container.add_stream(codec, rate=int(round(fps)))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.thread_count = 1
            if codec == "mpeg4" and ext == ".avi":
                stream.codec_context.codec_tag = "XVID"
            stream.codec_context.options = options

            def encode(frame) -> None:
                frame = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[:height, :width, :3])
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)

            encode(first)
            for frame in iterator:
                encode(frame)
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    return path
