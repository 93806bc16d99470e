"""The packet probe gives the decoding probe's facts without decoding, or says it cannot and decodes.

Every file here is probed both ways: the frame count, timestamps, key frames, size, rate and header
count must agree on each one, and the files that need a decode must be the ones expected (the test
fails if the packet probe silently decodes everything, or trusts packets it should not).
"""

import av
import numpy as np
import pytest

from tests.faults.conftest import add_bad_videos
from tests.helpers import index_frame, read_index, write_bad_videos, write_index_video
from tests.test_video_readers import CONTAINERS, LAYOUTS, write_container
from videossl.errors import UserError, VideoReadError
from videossl.video import open_video, probe_video
from videossl.video.packet_probe import _unsure_packet

FACTS = ("num_frames", "pts", "keyframes", "height", "width", "fps", "header_frames", "decode_error")


def facts(info):
    return {name: getattr(info, name) for name in FACTS}


def remux(src, dst, fmt=None, shift=0, first=0, replace=None, all_key=False):
    """Copy ``src``'s packets into ``dst``: timestamps shifted by ``shift``, starting at packet
    ``first``, ``replace`` mapping a packet number to the bytes that replace its data, every packet
    flagged as a key frame with ``all_key``."""
    with av.open(src) as source, av.open(dst, "w", format=fmt) as out:
        stream = source.streams.video[0]
        target = out.add_stream_from_template(stream)
        for n, packet in enumerate(p for p in source.demux(stream) if p.dts is not None):
            if n < first:
                continue
            if replace and n in replace:
                new = av.Packet(replace[n](packet))
                new.pts, new.dts, new.time_base = packet.pts, packet.dts, packet.time_base
                new.is_keyframe = packet.is_keyframe
                packet = new
            packet.pts, packet.dts, packet.stream = packet.pts + shift, packet.dts + shift, target
            packet.is_keyframe = packet.is_keyframe or all_key
            out.mux(packet)
    return dst


def packets_of(path):
    with av.open(path) as container:
        return [p for p in container.demux(container.streams.video[0]) if p.dts is not None]


def write_mjpeg(path, frames=60):
    container = av.open(path, "w", format="avi")
    stream = container.add_stream("mjpeg", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(index_frame(i, 64, 64), format="rgb24").reformat(format="yuvj420p")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def with_packed_divx_tag(packet):
    """The first packet with the user data an XviD/DivX encoder writes in packed-bitstream mode."""
    return b"\x00\x00\x01\xb2DivX503b1393p" + bytes(packet)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """{name: (path, "packets" or the reason a decode is expected)}."""
    folder = tmp_path_factory.mktemp("probe")
    files = {}
    for key, layout in LAYOUTS.items():
        files[key] = (write_index_video(str(folder / layout["name"]), 150, bframes=layout["bframes"]), "packets")
    for n, (name, (ext, fmt, codec, rate, gop, bframes, options)) in enumerate(sorted(CONTAINERS.items())):
        if codec in av.codecs_available:
            path = str(folder / f"c{n}.{ext}")
            write_container(path, fmt, codec, rate, gop, bframes, options)
            files[name] = (path, "MPEG stream container" if fmt in ("mpeg", "vob") else "packets")
            if fmt in ("mpeg", "vob"):  # the same pictures in Matroska: read from their packets
                files[f"{name}, remuxed to mkv"] = (remux(path, str(folder / f"c{n}.mkv")), "packets")
    extra = {
        "hevc mp4": ("hevc.mp4", "mp4", "libx265", (30, 1), 24, 3, {"x265-params": "log-level=none"}),
        "av1 mkv": ("av1.mkv", "matroska", "libsvtav1", (30, 1), 32, None, {}),
        "mpeg4 mp4": ("m4.mp4", "mp4", "mpeg4", (25, 1), 12, 2, {}),
    }
    for name, (file, fmt, codec, rate, gop, bframes, options) in extra.items():
        if codec in av.codecs_available:
            write_container(str(folder / file), fmt, codec, rate, gop, bframes, options, frames=120)
            files[name] = (str(folder / file), "packets")
    files["mjpeg avi"] = (write_mjpeg(str(folder / "mj.avi")), "packets")
    h264 = files["mp4_h264_bframes"][0]
    files["mp4 with an edit list (starts late)"] = (remux(h264, str(folder / "late.mp4"), shift=5000), "packets")
    files["h264 remuxed to mpeg-ts"] = (remux(h264, str(folder / "h.ts"), fmt="mpegts"), "MPEG stream container")
    files["xvid remuxed to mkv"] = (remux(files["avi_bframes_gop12"][0], str(folder / "x.mkv")), "packets")
    files["cut after its key frame"] = (remux(h264, str(folder / "cut.mp4"), first=5), "without a key frame")
    open_gop = files["mp4 h264 open gop (kinetics)"][0]
    second_key = [n for n, p in enumerate(packets_of(open_gop)) if p.is_keyframe][1]
    files["cut at an open GOP's key frame (no IDR)"] = (
        remux(open_gop, str(folder / "no_idr.mp4"), first=second_key),
        "does not start with a picture a decoder can start from",
    )
    xvid = files["avi_bframes_gop12"][0]
    files["avi flagging every frame as key (FFmpeg reads the VOP types)"] = (
        remux(xvid, str(folder / "all_key.avi"), all_key=True),
        "packets",
    )
    packed = remux(files["avi_bframes_gop12"][0], str(folder / "packed.avi"), replace={0: with_packed_divx_tag})
    files["packed divx"] = (packed, "packed MPEG-4")
    for kind, path in write_bad_videos(str(folder / "bad")).items():
        if kind in ("truncated", "five_frames"):
            files[kind] = (path, "packets" if kind == "five_frames" else "corrupt")
    (folder / "odd" / "C").mkdir(parents=True)
    add_bad_videos(str(folder / "odd"), "C", 1)  # grey, odd-sized, portrait, other codecs, a lying header
    for path in sorted((folder / "odd" / "C").iterdir()):
        if path.is_file():
            files[f"odd {path.name}"] = (str(path), None)
    return files


def test_packets_give_the_decoding_probe_s_facts_on_every_file(suite):
    compared = 0
    for name, (path, expected) in suite.items():
        try:
            decoded = probe_video(path, probe="decode")
        except VideoReadError:
            with pytest.raises(VideoReadError):
                probe_video(path)
            continue
        info = probe_video(path)
        assert facts(info) == facts(decoded), name
        compared += 1
        if expected == "packets":
            assert info.probe == "packets", (name, info.probe)
        elif expected is not None:
            assert info.probe.startswith("decoded (") and expected in info.probe, (name, info.probe)
    assert compared >= 20


def test_packet_probed_videos_read_exactly(suite):
    for name in ("avi_bframes_gop12", "mp4 with an edit list (starts late)", "mpeg2 vob, remuxed to mkv", "mjpeg avi"):
        path = suite[name][0]
        info = probe_video(path)
        assert info.probe == "packets"
        wanted = [0, 1, 37, 38, 39, info.num_frames - 1]
        with open_video(path, info=info) as reader:
            assert [read_index(f) for f in reader.get_frames(wanted)] == wanted, name


def test_a_frame_that_does_not_decode_is_refused_and_the_others_keep_their_time(tmp_path):
    """Two damaged packets: a decoding probe counts 4 fewer frames, so every later index names a frame
    4 steps later in time; the packet probe keeps each frame's index and a read that needs a lost
    frame fails (the dataset then skips the video), never returning another frame in its place."""
    source = write_index_video(str(tmp_path / "v.avi"), 120)
    damaged = remux(
        source, str(tmp_path / "damaged.avi"), replace={30: lambda p: bytes(p.size), 31: lambda p: bytes(p.size)}
    )
    decoded, info = probe_video(damaged, probe="decode"), probe_video(damaged)
    assert decoded.num_frames < 120 and decoded.decode_error
    assert info.num_frames == 120 and info.probe == "packets"
    with open_video(damaged, info=info) as reader:
        assert [read_index(f) for f in reader.get_frames([40, 41, 100])] == [40, 41, 100]
        with pytest.raises(VideoReadError, match="did not decode"):
            reader.get_frames([29, 30])


class FakePacket:
    """A demuxed packet's flags and bytes, as a container would hand them over."""

    def __init__(self, data, is_keyframe, pts=0):
        self.data, self.is_keyframe, self.pts, self.size = data, is_keyframe, pts, len(data)
        self.is_corrupt = self.is_discard = False

    def __bytes__(self):
        return self.data


def test_a_key_frame_flag_on_a_predicted_picture_is_not_trusted():
    """FFmpeg re-reads MPEG-4 picture types in AVI and Matroska, so no file of the suite has a wrong
    flag; a container that trusted one would hand over a P-VOP flagged as key."""
    vop = b"\x00\x00\x01\xb6"
    i_vop, p_vop = FakePacket(vop + b"\x10" + bytes(20), True), FakePacket(vop + b"\x50" + bytes(20), True)
    assert _unsure_packet(i_vop, "mpeg4", 0, first=True) == ""
    assert _unsure_packet(p_vop, "mpeg4", 0, first=False) == "a key frame flag the bitstream does not confirm"
    assert "start from" in _unsure_packet(p_vop, "mpeg4", 0, first=True)
    idr, non_idr_intra = b"\x00\x00\x01\x65\x88", b"\x00\x00\x01\x41\x88"  # first_mb 0, slice_type 7 (I)
    assert _unsure_packet(FakePacket(idr + bytes(8), True), "h264", 0, first=True) == ""
    assert _unsure_packet(FakePacket(non_idr_intra + bytes(8), True), "h264", 0, first=False) == ""
    p_slice = FakePacket(b"\x00\x00\x01\x41\x9b" + bytes(8), True)  # first_mb 0, slice_type 5 (P)
    assert _unsure_packet(p_slice, "h264", 0, first=False) == "a key frame flag the bitstream does not confirm"
    assert "start from" in _unsure_packet(FakePacket(non_idr_intra + bytes(8), True), "h264", 0, first=True)


def test_probe_decode_always_decodes_and_an_unknown_probe_is_refused(suite):
    path = suite["avi_bframes_gop12"][0]
    assert probe_video(path, probe="decode").probe == "decoded (asked for)"
    with pytest.raises(UserError, match="unknown probe"):
        probe_video(path, probe="fast")
    assert np.array_equal(probe_video(path).pts, probe_video(path, probe="decode").pts)
