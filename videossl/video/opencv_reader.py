"""OpenCV: exact by decoding forward from the start.

OpenCV's own seek (``CAP_PROP_POS_FRAMES``) lands one frame off on some libxvid files, so it
is not used: frames before the wanted ones are grabbed (decoded, not converted) and counted.
The cost grows with the position of the last wanted frame.
"""

import cv2

from videossl.errors import VideoReadError
from videossl.video.base import VideoReader
from videossl.video.info import VideoInfo


class OpenCVReader(VideoReader):
    exact = True

    def __init__(self, path: str, info: VideoInfo, threads: int = 1) -> None:
        super().__init__(path, info)
        self.threads = threads

    def _decode(self, wanted):
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, int(self.threads)])
        if not cap.isOpened():
            raise VideoReadError(self.path, "OpenCV cannot open the file")
        want = set(wanted.tolist())
        last = int(wanted[-1])
        out = {}
        count = 0
        try:
            while count <= last:
                if count in want:
                    ok, frame = cap.read()
                    if ok:
                        out[count] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                else:
                    ok = cap.grab()
                if not ok:
                    break
                count += 1
        finally:
            cap.release()
        if len(out) < len(want):
            raise VideoReadError(self.path, f"OpenCV decoded {count} frames, expected {self.num_frames}")
        return out
