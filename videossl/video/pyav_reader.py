"""PyAV: the default backend, frame-exact on MPEG-4 AVIs with B-frames.

Seeking alone is not exact on such files (the decoder lands near, not on, a frame), so this
reader never trusts a position it did not verify: it seeks to the key frame at or before the
first wanted frame (key frames and timestamps come from the probe), decodes forward and keeps the
frames whose presentation timestamp is a wanted frame's timestamp. A frame still missing after
that (an open GOP, an odd container) is read by decoding forward from the start of the file,
again matched by timestamp (or counted, where the probe found no usable timestamps).
"""

import bisect
from collections.abc import Iterator
from typing import Optional

import av
import cv2
import numpy as np

from videossl.errors import VideoReadError
from videossl.video.base import VideoReader
from videossl.video.info import VideoInfo

AV_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError, RuntimeError, UnicodeDecodeError)


# Colour spaces whose YUV->RGB matrix is BT.601, which OpenCV's I420 conversion uses:
# unspecified (2), BT.470BG (5), SMPTE 170M (6); limited range: unspecified (0) or MPEG (1).
_BT601 = {2, 5, 6}
_LIMITED_RANGE = {0, 1}


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]``. SD yuv420p frames are converted by OpenCV (3.5x faster than
    swscale here, within 3 grey levels of it); anything else goes through swscale."""
    if (
        frame.format.name == "yuv420p"
        and frame.width % 2 == 0
        and frame.height % 2 == 0
        and int(frame.colorspace) in _BT601
        and int(frame.color_range) in _LIMITED_RANGE
    ):
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def _configure_threads(stream, threads) -> None:
    if threads == 1:
        stream.codec_context.thread_count = 1
    else:
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads  # 0 lets FFmpeg choose


def _open_container(path: str):
    try:
        container = av.open(str(path))
    except AV_ERRORS as err:
        raise VideoReadError(path, f"cannot open: {type(err).__name__}: {err}") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(path, "no video stream")
    if container.streams.video[0].codec_context is None:
        container.close()
        raise VideoReadError(path, "this FFmpeg build has no decoder for its video codec")
    return container, container.streams.video[0]


def decode_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, errors: Optional[list[str]] = None
) -> Iterator[av.VideoFrame]:
    """Frames in display order from the container's current position.

    Decoding goes packet by packet: a packet that the demuxer flags as corrupt or that fails to
    decode is skipped (its error appended to ``errors``) instead of ending the stream, so one corrupt
    packet costs one frame, and the probe and every later read skip the same packets and agree on
    frame numbers. An error of the
    demuxer itself (a truncated file) ends the stream.
    """
    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:  # e.g. the last packet of a truncated file: it would decode to garbage
                if errors is not None:
                    errors.append(f"corrupt packet at pts {packet.pts}")
                continue
            try:
                yield from packet.decode()
            except av.FFmpegError as err:
                if errors is not None:
                    errors.append(f"{type(err).__name__}: {err}")
    except AV_ERRORS as err:
        if errors is not None:
            errors.append(f"{type(err).__name__}: {err}")


def probe_with_pyav(path: str, threads: int = 0) -> VideoInfo:
    """Decode the whole video once and return its verified ``VideoInfo``."""
    container, stream = _open_container(path)
    _configure_threads(stream, threads)
    timestamps, keyframes, errors = [], [], []
    height = width = 0
    with container:
        header = int(stream.frames) if stream.frames else None
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        for frame in decode_frames(container, stream, errors):
            if frame.key_frame:
                keyframes.append(len(timestamps))
            timestamps.append(frame.pts)
            height, width = frame.height, frame.width
    error = f"{len(errors)} decoding errors, first: {errors[0]}" if errors else None
    if not timestamps:
        raise VideoReadError(path, errors[0] if errors else "no frame could be decoded")
    pts = timestamps
    if any(p is None for p in pts) or any(b <= a for a, b in zip(pts, pts[1:])):
        pts = None  # timestamps we cannot match frames by: readers decode forward from the start
    return VideoInfo(
        num_frames=len(timestamps),
        fps=fps,
        height=height,
        width=width,
        header_frames=header,
        pts=pts,
        keyframes=keyframes,
        decode_error=error,
    )


class PyAVReader(VideoReader):
    exact = True
    # A seek flushes the decoder and restarts at a key frame; decoding through fewer frames than
    # this is cheaper (contiguous windows used to cost one seek per GOP).
    SEEK_SKIP_FRAMES = 8

    def __init__(self, path: str, info: Optional[VideoInfo] = None, threads: int = 1) -> None:
        super().__init__(path, info if info is not None else probe_with_pyav(path))
        self.threads = threads
        self._container = None
        keys = sorted(set(self.info.keyframes) | {0})
        self._keys = keys
        self.segments_read = 0  # seeks performed (for tests and benchmarks)
        self.fallbacks = 0  # reads that needed a decode from the start

    def _stream(self):
        if self._container is None:
            self._container, stream = _open_container(self.path)
            _configure_threads(stream, self.threads)
        return self._container, self._container.streams.video[0]

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _key_before(self, i):
        return self._keys[bisect.bisect_right(self._keys, i) - 1]

    def _segments(self, wanted):
        """Group wanted frames so that each group is read with one seek."""
        segments, current = [], []
        for i in wanted.tolist():
            if current and self._key_before(i) - current[-1] > self.SEEK_SKIP_FRAMES:
                segments.append(current)  # seeking to a later key frame skips enough to pay for the seek
                current = []
            current.append(i)
        segments.append(current)
        return segments

    def _decode(self, wanted):
        out = {}
        if self.info.pts is not None:
            for segment in self._segments(wanted):
                self._decode_segment(segment, out)
        missing = [i for i in wanted.tolist() if i not in out]
        if missing:
            self.fallbacks += 1
            self._decode_from_start(missing, out)
        return out

    def _decode_segment(self, segment, out) -> None:
        """Seek to the key frame before ``segment`` and decode forward. The decoded timestamps must
        run through the probed ones in order from that key frame, which must carry its own (leading
        frames of an open GOP before it are skipped); otherwise (MPEG program streams at 29.97 fps
        stamp the frames after a seek two frames early) nothing of this segment is kept and the
        caller decodes it forward from the start."""
        pts = self.info.pts
        wanted, key = set(segment), self._key_before(segment[0])
        found = {}
        container, stream = self._stream()
        self.segments_read += 1
        try:
            container.seek(pts[key], stream=stream, backward=True, any_frame=False)
            expected = key
            for frame in decode_frames(container, stream):
                if frame.pts is None or (expected == key and not frame.key_frame and frame.pts < pts[key]):
                    continue  # an open GOP's leading frames, which belong before the key frame
                if frame.pts != pts[expected]:
                    self.close()
                    return  # not the frame the probe counted here: the position cannot be trusted
                if expected in wanted:
                    found[expected] = frame_to_rgb(frame)
                if expected == segment[-1]:
                    break
                expected += 1
        except AV_ERRORS:
            self.close()  # whatever is missing is read from the start
            return
        out.update(found)

    def _decode_from_start(self, wanted, out):
        """Decode from the first frame; frames are known by timestamp when the probe has them, else
        by their count (exact for a decoding probe, which counted the same way)."""
        self.close()
        pts = self.info.pts
        want = {(pts[i] if pts is not None else i): i for i in wanted}
        last = max(want)
        container, stream = self._stream()
        count = 0
        try:
            for frame in decode_frames(container, stream):
                key = frame.pts if pts is not None else count
                if key in want:
                    out[want[key]] = frame_to_rgb(frame)
                if key is not None and key >= last:
                    break
                count += 1
        finally:
            self.close()
        missing = [i for i in wanted if i not in out]
        if missing:
            raise VideoReadError(
                self.path,
                f"frame {missing[0]} of {self.num_frames} did not decode: damaged packets, or the file changed "
                "since it was probed",
            )
