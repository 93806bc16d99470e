"""Decoded frames are the frames that were written: every backend, on the layouts that trap seeking."""

import os

import numpy as np
import pytest

from tests.helpers import index_frame, read_index, write_index_frame_folder, write_index_video
from videossl.errors import UserError, VideoReadError
from videossl.video import open_video, probe_video
from videossl.video.pyav_reader import PyAVReader

NUM_FRAMES = 150
LAYOUTS = {
    # MPEG-4 AVI (XVID tag) with B-frames and a key frame every 12 frames: the UCF101-like trap.
    "avi_bframes_gop12": dict(name="b.avi", bframes=2, gop=12),
    "avi_no_bframes": dict(name="nob.avi", bframes=0, gop=12),
    "mp4_h264_bframes": dict(name="h.mp4", bframes=2, gop=12),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    out = {}
    for key, layout in LAYOUTS.items():
        path = str(folder / layout["name"])
        write_index_video(path, NUM_FRAMES, bframes=layout["bframes"], gop=layout["gop"])
        out[key] = path
    return out


def random_requests(rng, num_frames, count=40):
    """Windows of 16 consecutive frames, strided clips and scattered sets, in random order."""
    requests = []
    for _ in range(count):
        kind = rng.integers(3)
        if kind == 0:
            start = rng.integers(0, num_frames - 16)
            requests.append(np.arange(start, start + 16))
        elif kind == 1:
            start = rng.integers(0, num_frames - 61)
            requests.append(np.arange(start, start + 64, 4))
        else:
            requests.append(rng.integers(0, num_frames, 10))
    return requests


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("backend", ["pyav", "opencv", "decord"])
def test_exact_backends_return_the_written_frames(videos, layout, backend):
    pytest.importorskip("decord") if backend == "decord" else None
    info = probe_video(videos[layout])
    assert info.num_frames == NUM_FRAMES
    rng = np.random.default_rng(1)
    with open_video(videos[layout], backend, info=info) as reader:
        assert reader.exact
        for request in random_requests(rng, NUM_FRAMES):
            frames = reader.get_frames(request)
            assert frames.shape == (len(request), 64, 64, 3) and frames.dtype == np.uint8
            assert [read_index(f) for f in frames] == list(request)


def test_pyav_reads_by_seeking_without_falling_back(videos):
    """The exactness above must come from the fast path (seek + timestamps), not from decoding from the start."""
    info = probe_video(videos["avi_bframes_gop12"])
    reader = PyAVReader(videos["avi_bframes_gop12"], info)
    rng = np.random.default_rng(2)
    for request in random_requests(rng, NUM_FRAMES, 30):
        assert [read_index(f) for f in reader.get_frames(request)] == list(request)
    assert reader.segments_read >= 30
    assert reader.fallbacks == 0


def test_pyav_falls_back_to_an_exact_decode_without_timestamps(videos):
    info = probe_video(videos["avi_bframes_gop12"])
    info.pts = None  # as for a container without usable timestamps
    reader = PyAVReader(videos["avi_bframes_gop12"], info)
    request = [140, 3, 77, 77]
    assert [read_index(f) for f in reader.get_frames(request)] == request
    assert reader.fallbacks == 1


@pytest.mark.parametrize("layout", ["avi_no_bframes", "mp4_h264_bframes"])
def test_decord_batch_is_exact_where_it_promises(videos, layout):
    """decord_batch is documented as approximate: exact only on these layouts, never the default."""
    pytest.importorskip("decord")
    with open_video(videos[layout], "decord_batch") as reader:
        assert not reader.exact
        for request in random_requests(np.random.default_rng(3), NUM_FRAMES, 20):
            assert [read_index(f) for f in reader.get_frames(request)] == list(request)


def test_indices_are_clamped_into_the_video(videos):
    with open_video(videos["avi_bframes_gop12"]) as reader:
        frames = reader.get_frames([-5, 0, NUM_FRAMES - 1, NUM_FRAMES + 40])
    assert [read_index(f) for f in frames] == [0, 0, NUM_FRAMES - 1, NUM_FRAMES - 1]


@pytest.mark.parametrize("pattern,first", [("frame{:06d}.jpg", 1), ("img_{:05d}.jpg", 1), ("{:05d}.png", 0)])
def test_frame_folders_are_read_in_frame_order(tmp_path, pattern, first):
    folder = write_index_frame_folder(str(tmp_path / "v"), 30, pattern, first=first)
    # TSN-style dumps keep optical flow beside the RGB frames: it must be ignored.
    write_index_frame_folder(folder, 30, "flow_x_{:05d}.jpg")
    with open_video(folder, "opencv") as reader:
        assert reader.num_frames == 30
        request = [29, 0, 5, 5, 17]
        assert [read_index(f) for f in reader.get_frames(request)] == request


def test_frame_folder_with_a_missing_frame_is_refused(tmp_path):
    folder = write_index_frame_folder(str(tmp_path / "v"), 10)
    os.remove(os.path.join(folder, "frame000004.jpg"))
    with pytest.raises(VideoReadError, match="frame 4 is missing"):
        probe_video(folder)


def test_probe_reports_unreadable_files(tmp_path):
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    text = tmp_path / "text.avi"
    text.write_text("not a video\n" * 20)
    for path in (empty, text, tmp_path / "absent.avi"):
        with pytest.raises(VideoReadError):
            probe_video(path)


def test_probe_of_a_truncated_file_keeps_the_good_frames(tmp_path):
    full = tmp_path / "full.avi"
    write_index_video(str(full), 120)
    data = full.read_bytes()
    movi, index = data.find(b"movi"), data.find(b"idx1")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: movi + (index - movi) * 7 // 10])  # 70% of the frame data, no index
    info = probe_video(cut)
    assert 0 < info.num_frames < 120
    assert info.header_frames == 120  # the header still announces the full length
    with open_video(str(cut), info=info) as reader:
        request = list(range(info.num_frames - 10, info.num_frames))
        assert [read_index(f) for f in reader.get_frames(request)] == request


def test_odd_sized_and_grey_frames_come_back_as_rgb(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    import cv2

    for i in range(3):
        cv2.imwrite(str(folder / f"img_{i + 1:05d}.jpg"), index_frame(i, 239, 321)[..., 0])  # greyscale JPEG
    with open_video(str(folder)) as reader:
        frames = reader.get_frames([0, 1, 2])
    assert frames.shape == (3, 239, 321, 3)


def test_unknown_backend_is_a_user_error(videos):
    with pytest.raises(UserError, match="unknown video backend"):
        open_video(videos["avi_no_bframes"], "nope")


def test_pyav_reads_a_contiguous_window_with_one_seek_and_far_windows_with_two(videos):
    path = videos["avi_bframes_gop12"]
    reader = PyAVReader(path, probe_video(path))
    window = list(range(20, 84))  # crosses five key frames: decoding through beats seeking at each
    assert [read_index(f) for f in reader.get_frames(window)] == window
    assert reader.segments_read == 1
    far = [2, 3, 120, 121]  # ~9 GOPs apart: the second pair is reached by a seek
    assert [read_index(f) for f in reader.get_frames(far)] == far
    assert reader.segments_read == 3


# The containers and codecs the field's datasets come in, with the encoder settings that make
# seeking hard: B-frames, open GOPs, long GOPs, VP8/VP9 alternate reference frames, MPEG program
# streams at 29.97 fps (which stamp the frames after a seek two frames early).
CONTAINERS = {
    "mpeg2 program stream 29.97 fps (re-encoded .mpg)": ("mpg", "mpeg", "mpeg2video", (30000, 1001), 15, 2, {}),
    "mpeg2 vob": ("vob", "vob", "mpeg2video", (25, 1), 15, 3, {}),
    "mpeg1 program stream": ("mpg", "mpeg", "mpeg1video", (30000, 1001), 18, 2, {}),
    "webm vp9 with alt-ref (kinetics, something-something)": (
        "webm", "webm", "libvpx-vp9", (30, 1), 60, None, {"lag-in-frames": "16", "auto-alt-ref": "1"},
    ),
    "webm vp8": ("webm", "webm", "libvpx", (30000, 1001), 48, None, {"auto-alt-ref": "1"}),
    "mp4 h264 open gop (kinetics)": (
        "mp4", "mp4", "libx264", (30000, 1001), 48, 3, {"x264-params": "open-gop=1:keyint=48:min-keyint=12"},
    ),
    "mkv h264 long gop": ("mkv", "matroska", "libx264", (25, 1), 250, 3, {}),
    "avi xvid (ucf101, hmdb51)": ("avi", "avi", "mpeg4", (25, 1), 12, 2, {"qmax": "4"}),
}  # fmt: skip


def write_container(path, fmt, codec, rate, gop, bframes, options, frames=240):
    import fractions

    import av

    container = av.open(path, "w", format=fmt)
    stream = container.add_stream(codec, rate=fractions.Fraction(*rate))
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    stream.codec_context.options = {"g": str(gop), **({"bf": str(bframes)} if bframes is not None else {}), **options}
    for i in range(frames):
        for packet in stream.encode(av.VideoFrame.from_ndarray(index_frame(i, 64, 64), format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_random_windows_are_exact_in_every_container(tmp_path, name):
    import av

    ext, fmt, codec, rate, gop, bframes, options = CONTAINERS[name]
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = str(tmp_path / f"v.{ext}")
    write_container(path, fmt, codec, rate, gop, bframes, options)
    rng = np.random.default_rng(0)
    with open_video(path, backend="pyav") as reader:
        assert reader.num_frames == 240
        for _ in range(41):  # windows of 4 frames at stride 4, as a sampler asks
            start = int(rng.integers(0, 240 - 13))
            wanted = [start + 4 * k for k in range(4)]
            assert [read_index(frame) for frame in reader.get_frames(wanted)] == wanted, name
