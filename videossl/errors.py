"""Error types shared by every tool.

``UserError`` is a problem with what the user asked for (a path, a split, a flag): command-line
tools print it as one line and exit non-zero, without a traceback. ``VideoReadError`` is one
video that cannot be read: datasets skip such a video, log it and count it.
"""

import os
from typing import Union


class UserError(Exception):
    """A problem with the user's input, reported as one line and a non-zero exit."""


class VideoReadError(RuntimeError):
    """One video could not be opened or decoded."""

    def __init__(self, path: Union[str, os.PathLike], reason: object) -> None:
        self.path = str(path)
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}")


class DecodeTimeout(VideoReadError):
    """A video whose decoding took longer than the allowed time (``--decode_timeout``)."""
