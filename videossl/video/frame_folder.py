"""Folders of decoded frames (``frame000001.jpg``, ``img_00001.jpg``, 1-based), as TCE and VTDL
store their datasets. A folder with a gap in its numbering is refused: its frame indices would
not be the video's."""

import os
import re
from collections import defaultdict
from typing import Optional

import cv2

from videossl.errors import VideoReadError
from videossl.video.base import VideoReader
from videossl.video.info import VideoInfo

FRAME_FILE = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)\.(?:jpe?g|png)$", re.IGNORECASE)
# TSN-style dumps keep flow images (flow_x_00001.jpg) beside the RGB ones: prefer RGB prefixes.
RGB_PREFIXES = ("img_", "frame", "image_", "img", "")


def list_frame_files(folder: str) -> list[str]:
    """The folder's RGB frame files in frame order; raises VideoReadError on gaps."""
    try:
        names = os.listdir(folder)
    except OSError as err:
        raise VideoReadError(folder, f"cannot list the frame folder: {err}") from None
    by_prefix = defaultdict(dict)
    for name in names:
        m = FRAME_FILE.match(name)
        if m:
            by_prefix[m.group("prefix")][int(m.group("number"))] = name
    if not by_prefix:
        raise VideoReadError(folder, "no frame images (*.jpg, *.png) in the folder")
    prefix = next((p for p in RGB_PREFIXES if p in by_prefix), None)
    if prefix is None:
        if len(by_prefix) > 1:
            raise VideoReadError(folder, f"frame files with several name prefixes: {sorted(by_prefix)}")
        prefix = next(iter(by_prefix))
    frames = by_prefix[prefix]
    numbers = sorted(frames)
    first = numbers[0]
    expected = range(first, first + len(numbers))
    if numbers != list(expected):
        gap = next(n for n in expected if n not in frames)
        raise VideoReadError(folder, f"frame {gap} is missing ({prefix}{gap:0{len(str(numbers[-1]))}d}...)")
    return [os.path.join(folder, frames[n]) for n in numbers]


def _read_image(path: str):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise VideoReadError(path, "cannot decode the image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def probe_frame_folder(folder: str) -> VideoInfo:
    files = list_frame_files(folder)
    height, width = _read_image(files[0]).shape[:2]
    return VideoInfo(num_frames=len(files), fps=None, height=height, width=width, header_frames=len(files))


class FrameFolderReader(VideoReader):
    exact = True

    def __init__(self, path: str, info: Optional[VideoInfo] = None, threads: int = 1) -> None:
        super().__init__(path, info if info is not None else probe_frame_folder(path))
        self._files = list_frame_files(self.path)
        if len(self._files) != self.num_frames:
            raise VideoReadError(self.path, f"{len(self._files)} frame files, expected {self.num_frames}")

    def _decode(self, wanted):
        return {int(i): _read_image(self._files[int(i)]) for i in wanted}
