"""decord: one exact reader and one fast, approximate one.

Measured on MPEG-4 AVIs with B-frames and a key frame every 12 frames: ``get_batch`` returned
wrong frames in 18 of 20 16-frame windows, and ``skip_frames`` / ``seek_accurate`` followed by
``next`` were wrong too, while plain ``next()`` from the start was exact. So ``decord`` decodes
forward from the start with ``next()``; ``decord_batch`` uses ``get_batch`` and is exact only
on streams without B-frames (tested on such files); it is never the default.
"""

import numpy as np

from videossl.errors import UserError, VideoReadError
from videossl.video.base import VideoReader
from videossl.video.info import VideoInfo


def _decord():
    try:
        import decord
    except ImportError:
        raise UserError("the decord backend needs the decord package (pip install decord)") from None
    return decord


def _open(path: str, threads):
    decord = _decord()
    try:
        return decord.VideoReader(path, num_threads=int(threads))
    except Exception as err:  # decord raises its own DECORDError and RuntimeError
        raise VideoReadError(path, f"decord cannot open: {err}") from None


class DecordReader(VideoReader):
    exact = True

    def __init__(self, path: str, info: VideoInfo, threads: int = 1) -> None:
        super().__init__(path, info)
        self.threads = threads

    def _decode(self, wanted):
        reader = _open(self.path, self.threads)
        want = set(wanted.tolist())
        out = {}
        try:
            for i in range(int(wanted[-1]) + 1):
                frame = reader.next()
                if i in want:
                    out[i] = frame.asnumpy()
        except StopIteration:
            raise VideoReadError(self.path, f"decord decoded {i} frames, expected {self.num_frames}") from None
        except Exception as err:
            raise VideoReadError(self.path, f"decord failed: {err}") from None
        return out


class DecordBatchReader(VideoReader):
    exact = False  # wrong frames on streams with B-frames; see the module docstring

    def __init__(self, path: str, info: VideoInfo, threads: int = 1) -> None:
        super().__init__(path, info)
        self.threads = threads

    def _decode(self, wanted):
        reader = _open(self.path, self.threads)
        # Never ask past the verified count: decord can hang on over-reported frame counts.
        last = min(len(reader), self.num_frames) - 1
        idx = np.minimum(wanted, last)
        try:
            frames = reader.get_batch(idx.tolist()).asnumpy()
        except Exception as err:
            raise VideoReadError(self.path, f"decord failed: {err}") from None
        return {int(i): frame for i, frame in zip(wanted, frames)}
