"""Exact video reading behind one interface.

``open_video(path, backend)`` returns a ``VideoReader`` whose ``get_frames(indices)`` decodes
only the requested frames as uint8 RGB ``[T, H, W, 3]``. ``probe_video(path)`` returns a video's
verified ``VideoInfo`` (true frame count, timestamps, key frames) from its packets, or by decoding
it once where packets cannot be trusted; pass it to ``open_video`` so that readers need not probe
the video again.

Backends (see ``scripts/bench/bench_loader.py`` for their speed):

============  =====  =====================================================================
backend       exact  how
============  =====  =====================================================================
pyav          yes    default; seek to a probed key frame, keep frames by timestamp
opencv        yes    decode forward from the start (OpenCV's seek is off by one on some files)
decord        yes    decode forward from the start with ``next()``
decord_batch  no     ``get_batch``: wrong frames on streams with B-frames (UCF101's XviD)
============  =====  =====================================================================

A path that is a folder is read as JPEG/PNG frames whatever the backend.
"""

import os
from typing import Optional, Union

from videossl.errors import UserError, VideoReadError
from videossl.video.base import VideoReader
from videossl.video.decord_reader import DecordBatchReader, DecordReader
from videossl.video.frame_folder import FrameFolderReader, list_frame_files, probe_frame_folder
from videossl.video.info import VideoInfo, clamp_indices
from videossl.video.opencv_reader import OpenCVReader
from videossl.video.packet_probe import probe_packets
from videossl.video.pyav_reader import PyAVReader, probe_with_pyav

BACKENDS = {"pyav": PyAVReader, "opencv": OpenCVReader, "decord": DecordReader, "decord_batch": DecordBatchReader}
DEFAULT_BACKEND = "pyav"
PROBES = ("packets", "decode")  # --probe: packets where they are sure to be the frames, or always decode


def probe_video(path: Union[str, os.PathLike], probe: str = "packets") -> VideoInfo:
    """A video's verified ``VideoInfo``: from its packets when ``probe`` is "packets" and they are
    sure to be its frames, else from one full decode; a frame folder is listed. ``info.probe``
    says which (and why packets were not enough)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return probe_frame_folder(path)
    if not os.path.exists(path):
        raise VideoReadError(path, "no such file")
    if probe not in PROBES:
        raise UserError(f"unknown probe {probe!r}; choose from {', '.join(PROBES)}")
    why = "asked for"
    if probe == "packets":
        info, why = probe_packets(path)
        if info is not None:
            return info
    info = probe_with_pyav(path)
    info.probe = f"decoded ({why})"
    return info


def open_video(
    path: Union[str, os.PathLike], backend: str = DEFAULT_BACKEND, info: Optional[VideoInfo] = None, threads: int = 1
) -> VideoReader:
    """A ``VideoReader`` for a video file or a frame folder.

    ``info`` is the video's probe result; without it the video is probed first (a full
    decode). ``threads`` is the decoder's thread count (1 inside data-loader workers).
    """
    path = os.fspath(path)
    if backend not in BACKENDS:
        raise UserError(f"unknown video backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if os.path.isdir(path):
        return FrameFolderReader(path, info)
    if info is None:
        info = probe_video(path)
    return BACKENDS[backend](path, info, threads=threads)


__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "PROBES",
    "VideoInfo",
    "VideoReadError",
    "VideoReader",
    "clamp_indices",
    "list_frame_files",
    "open_video",
    "probe_video",
]
