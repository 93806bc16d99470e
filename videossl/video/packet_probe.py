"""A video's frame count, timestamps and key frames from its packets, without decoding.

Where a packet might not decode to exactly one frame carrying the packet's timestamp, the probe
says why instead of guessing, and the caller decodes the video. A frame's display index is its
timestamp's rank; key frames are the container's flags (where a seek lands), checked against the
bitstream for the codecs whose picture type the first bytes of a packet tell. What packets cannot
show (a packet that fails to decode) the reader catches: it matches frames by timestamp and never
returns a frame it did not find.
"""

import re
from typing import Optional

from videossl.video.bitstream import nal_length_size, picture_kind
from videossl.video.info import VideoInfo
from videossl.video.pyav_reader import AV_ERRORS, _open_container

# Codecs whose packets map one to one onto decoded frames (checked against a full decode on every
# file of tests/test_probe.py).
PACKET_EXACT_CODECS = {"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video", "vp8", "vp9", "av1", "mjpeg"}
# Codecs whose picture type the probe reads from the packet (the others are intra-only, or their
# muxers set key flags from the bitstream).
PARSED_CODECS = {"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video"}
# Containers that may carry the two fields of an interlaced frame as two packets.
FIELD_CONTAINERS = {"mpegts", "mpeg", "mpegvideo", "h264", "hevc", "m4v", "vob", "svcd", "vcd", "dvd"}
# DivX/XviD "packed bitstream": two frames in one packet and an empty placeholder after it.
PACKED_DIVX = re.compile(rb"DivX\d+(?:Build|b)\d+p")
# bytes: an MPEG-4 "not coded" frame (the placeholder a packed B-frame leaves; FFmpeg outputs no frame
# for it). Real frames this small exist only at tiny sizes (32x32 with nothing moving): decoded too.
TINY_PACKET = 8


def probe_packets(path: str) -> tuple[Optional[VideoInfo], str]:
    """(info, "") when every packet is sure to decode to one frame with its own timestamp, else
    (None, why not)."""
    container, stream = _open_container(path)
    with container:
        codec = stream.codec_context.codec.canonical_name  # the format (av1), not the decoder (libdav1d)
        extradata = stream.codec_context.extradata or b""
        why = _unsure_stream(codec, extradata, set(container.format.name.split(",")))
        if why:
            return None, why
        length_size = nal_length_size(codec, extradata)
        timestamps, key_pts = [], []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 and packet.pts is None:
                    continue  # the demuxer's end-of-stream flush
                why = _unsure_packet(packet, codec, length_size, first=not timestamps)
                if why:
                    return None, why
                timestamps.append(packet.pts)
                if packet.is_keyframe:
                    key_pts.append(packet.pts)
        except AV_ERRORS as err:
            return None, f"demuxing failed: {type(err).__name__}"
        header = int(stream.frames) if stream.frames else None
        rate = stream.average_rate or stream.guessed_rate
        size = (stream.codec_context.height, stream.codec_context.width)
    return _info_from_packets(timestamps, key_pts, rate, size, header)


def _unsure_stream(codec: str, extradata: bytes, formats: set) -> str:
    if codec not in PACKET_EXACT_CODECS:
        return f"codec {codec}"
    if formats & FIELD_CONTAINERS:
        return "an MPEG stream container (fields may come as separate packets)"
    if codec == "mpeg4" and PACKED_DIVX.search(extradata):
        return "packed MPEG-4 B-frames"
    return ""


def _unsure_packet(packet, codec: str, length_size: int, first: bool) -> str:
    """Why this packet might not decode to exactly one frame with its own timestamp ("" if sure)."""
    if packet.pts is None:
        return "a packet without a timestamp"
    if packet.is_corrupt or packet.is_discard:
        return "a corrupt or discarded packet"
    if packet.size == 0:
        return "an empty packet (a dropped frame)"
    if first and not packet.is_keyframe:
        return "the stream starts without a key frame"
    if codec == "mpeg4" and packet.size <= TINY_PACKET:
        return "a tiny MPEG-4 packet (a frame not coded, which FFmpeg skips, or packed B-frames)"
    if (first or packet.is_keyframe) and codec in PARSED_CODECS:
        data = bytes(packet)
        if first and codec == "mpeg4" and PACKED_DIVX.search(data):
            return "packed MPEG-4 B-frames"
        kind = picture_kind(codec, data, length_size)
        if first and kind != "start":
            return "the stream does not start with a picture a decoder can start from"
        if kind not in ("start", "intra"):
            return "a key frame flag the bitstream does not confirm"
    return ""


def _info_from_packets(timestamps, key_pts, rate, size, header) -> tuple[Optional[VideoInfo], str]:
    if not timestamps:
        return None, "no packets"
    height, width = size
    if not height or not width:
        return None, "no frame size in the header"
    pts = sorted(timestamps)
    if any(b <= a for a, b in zip(pts, pts[1:])):
        return None, "repeated timestamps"
    if pts[0] < key_pts[0]:
        return None, "frames shown before the first key frame (an open GOP at the start)"
    rank = {t: i for i, t in enumerate(pts)}
    info = VideoInfo(
        num_frames=len(pts),
        fps=float(rate) if rate else None,
        height=height,
        width=width,
        header_frames=header,
        pts=pts,
        keyframes=sorted(rank[t] for t in key_pts),
        probe="packets",
    )
    return info, ""
