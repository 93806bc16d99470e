"""The picture type at the start of a coded packet, read from its first bytes without decoding.

The packet probe uses it to check what the container claims: that the stream starts with a
picture a decoder can start from, and that a packet flagged as a key frame really is an intra
picture (some AVI indexes flag every frame). ``None`` means the bytes do not say.
"""

from collections.abc import Iterator
from typing import Optional

START_CODE = b"\x00\x00\x01"


def nal_length_size(codec: str, extradata: Optional[bytes]) -> int:
    """The NAL length field's size of an MP4/MKV-style stream (avcC, hvcC extradata); 0 when the
    packets separate NAL units by start codes."""
    if not extradata or extradata[0] != 1:
        return 0
    at = {"h264": 4, "hevc": 21}.get(codec)
    return (extradata[at] & 3) + 1 if at is not None and len(extradata) > at else 0


def nal_units(data: bytes, length_size: int) -> Iterator[bytes]:
    """The NAL units of one packet (length-prefixed, or separated by start codes)."""
    if length_size:
        pos = 0
        while pos + length_size <= len(data):
            size = int.from_bytes(data[pos : pos + length_size], "big")
            pos += length_size
            if size <= 0:
                return
            yield data[pos : pos + size]
            pos += size
        return
    parts = data.split(START_CODE)
    for part in parts[1:]:
        yield part.rstrip(b"\x00")


def _unescape(data: bytes) -> bytes:
    return data.replace(b"\x00\x00\x03", b"\x00\x00")


def _exp_golomb(data: bytes, count: int) -> list[int]:
    """The first ``count`` unsigned Exp-Golomb values of ``data``'s bits."""
    bits = "".join(f"{byte:08b}" for byte in data)
    values, pos = [], 0
    for _ in range(count):
        zeros = 0
        while pos + zeros < len(bits) and bits[pos + zeros] == "0":
            zeros += 1
        end = pos + 2 * zeros + 1
        if end > len(bits):
            break
        values.append(int(bits[pos + zeros : end], 2) - 1)
        pos = end
    return values


def h264_picture(data: bytes, length_size: int) -> Optional[str]:
    """ "idr", "intra" (I slices, not IDR), "inter", or None."""
    for nal in nal_units(data, length_size):
        if not nal:
            continue
        kind = nal[0] & 0x1F
        if kind == 5:
            return "idr"
        if kind == 1:
            values = _exp_golomb(_unescape(nal[1:12]), 2)
            if len(values) < 2:
                return None
            return "intra" if values[1] % 5 in (2, 4) else "inter"
    return None


def hevc_picture(data: bytes, length_size: int) -> Optional[str]:
    """ "irap" (BLA, IDR, CRA), "other" (a coded slice of another type), or None."""
    for nal in nal_units(data, length_size):
        if len(nal) < 2:
            continue
        kind = (nal[0] >> 1) & 0x3F
        if 16 <= kind <= 21:
            return "irap"
        if kind <= 31:
            return "other"
    return None


def mpeg4_vop_type(data: bytes) -> Optional[str]:
    """ "I", "P", "B" or "S" of the packet's first video object plane."""
    at = data.find(START_CODE + b"\xb6")
    if at < 0 or at + 4 >= len(data):
        return None
    return "IPBS"[data[at + 4] >> 6]


def mpeg12_picture_type(data: bytes) -> Optional[str]:
    """ "I", "P", "B" or "D" of the packet's first MPEG-1/2 picture header."""
    at = data.find(START_CODE + b"\x00")
    if at < 0 or at + 5 >= len(data):
        return None
    kind = (data[at + 5] >> 3) & 7
    return {1: "I", 2: "P", 3: "B", 4: "D"}.get(kind)


def picture_kind(codec: str, data: bytes, length_size: int) -> Optional[str]:
    """ "start" (a decoder can start here), "intra" (a key frame, not a start), "inter", or None."""
    if codec == "h264":
        kind = h264_picture(data, length_size)
        return {"idr": "start", "intra": "intra", "inter": "inter"}.get(kind)
    if codec == "hevc":
        kind = hevc_picture(data, length_size)
        return {"irap": "start", "other": "inter"}.get(kind)
    if codec == "mpeg4":
        kind = mpeg4_vop_type(data)
    elif codec in ("mpeg1video", "mpeg2video"):
        kind = mpeg12_picture_type(data)
    else:
        return "start"  # intra-only (MJPEG) or flags set from the bitstream by the muxer (VP8, VP9, AV1)
    return None if kind is None else ("start" if kind == "I" else "inter")
