"""Fixtures of the fault suite: a synthetic UCF101-layout dataset with every kind of bad video
mixed into both splits, and a tiny checkpoint to evaluate."""

import os
import shutil
import struct

import av
import numpy as np
import pytest
import torch

from tests.helpers import (
    index_frame,
    make_tiny_synthetic,
    write_bad_videos,
    write_index_frame_folder,
    write_index_video,
)
from videossl.data.input_contract import InputContract
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import make_checkpoint, save_checkpoint

# (kind, file name under the first class folder, readable?)
BAD_KINDS = {
    "zero_byte": False,
    "text": False,
    "frame_folder_with_gap": False,
    "truncated": True,
    "three_frames": True,
    "header_overreports": True,
    "grayscale": True,
    "odd_size": True,
    "portrait": True,
}
UNREADABLE = sorted(k for k, readable in BAD_KINDS.items() if not readable)


def encode_exactly(path, frames, codec, pix_fmt):
    """Write ``frames`` (uint8 ``[H, W]`` grey or ``[H, W, 3]`` RGB) as they are: no cropping to even
    sizes, which the project's writer does."""
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        for frame in frames:
            image = av.VideoFrame.from_ndarray(frame, format="gray" if frame.ndim == 2 else "rgb24")
            for packet in stream.encode(image):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_grayscale_video(path, num_frames, height=32, width=32):
    """A real single-channel stream (FFV1, pixel format gray), not RGB frames that happen to be grey."""
    frames = []
    for i in range(num_frames):
        frame = np.full((height, width), (i * 37) % 256, np.uint8)
        frame[: height // 2, : width // 2] = 255 - frame[0, 0]  # some structure to crop
        frames.append(frame)
    return encode_exactly(path, frames, "ffv1", "gray")


def overstate_avi_frame_count(path, extra):
    """Raise the frame counts an AVI's headers declare (avih dwTotalFrames, strh dwLength) by ``extra``."""
    data = bytearray(open(path, "rb").read())
    avih = data.find(b"avih") + 8
    total = struct.unpack_from("<I", data, avih + 16)[0]
    struct.pack_into("<I", data, avih + 16, total + extra)
    strh = data.find(b"strh") + 8
    length = struct.unpack_from("<I", data, strh + 32)[0]
    struct.pack_into("<I", data, strh + 32, length + extra)
    with open(path, "wb") as f:
        f.write(data)
    return total


def add_bad_videos(video_root, class_name, group):
    """Write every bad kind into ``video_root/class_name``; returns {kind: list-file entry}."""
    folder = os.path.join(video_root, class_name)
    entries = {}

    def name(kind):
        return f"v_{class_name}_g{group:02d}_c{list(BAD_KINDS).index(kind) + 1:02d}"

    scratch = os.path.join(folder, "_scratch")
    made = write_bad_videos(scratch)  # zero-byte, text, truncated mid-stream (and a 5-frame video, unused)
    for kind in ("zero_byte", "text", "truncated"):
        shutil.move(made[kind], os.path.join(folder, name(kind) + ".avi"))
    shutil.rmtree(scratch)
    write_index_video(os.path.join(folder, name("three_frames") + ".avi"), 3, 32, 32)
    path = write_index_video(os.path.join(folder, name("header_overreports") + ".avi"), 24, 32, 32)
    overstate_avi_frame_count(path, 6)
    write_grayscale_video(os.path.join(folder, name("grayscale") + ".avi"), 24)
    encode_exactly(
        os.path.join(folder, name("odd_size") + ".avi"),
        [index_frame(i, 239, 321) for i in range(24)],
        "mpeg4",
        "yuv420p",
    )
    write_index_video(os.path.join(folder, name("portrait") + ".avi"), 24, 48, 32)
    # frame dumps are listed under the video's name; this one lacks its 7th frame
    dump = write_index_frame_folder(os.path.join(folder, name("frame_folder_with_gap")), 20, height=32, width=32)
    os.remove(os.path.join(dump, "frame000007.jpg"))
    for kind in BAD_KINDS:
        entries[kind] = f"{class_name}/{name(kind)}.avi"
    return entries


@pytest.fixture(scope="session")
def faulty_dataset(tmp_path_factory):
    """(video root, split dir, {subset: {kind: path}}): the tiny synthetic set with every bad kind
    added to the training and to the test list (its own files in each)."""
    root, split_dir = make_tiny_synthetic(tmp_path_factory.mktemp("faulty"), frames=24)
    class_name = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))[0]
    label = 1  # classInd numbers from 1; the first class folder in alphabetical order is class 1
    with open(os.path.join(split_dir, "classInd.txt")) as f:
        for line in f:
            number, cls = line.split()
            if cls == class_name:
                label = int(number)
    paths = {}
    for subset, group, list_name in (("train", 90, "trainlist01.txt"), ("test", 91, "testlist01.txt")):
        entries = add_bad_videos(root, class_name, group)
        with open(os.path.join(split_dir, list_name), "a", newline="") as f:
            for rel in entries.values():  # the official format, CRLF line ends
                f.write(f"{rel} {label}\r\n" if subset == "train" else f"{rel}\r\n")
        paths[subset] = {kind: os.path.join(root, rel) for kind, rel in entries.items()}
    return root, split_dir, paths


def unreadable_names(paths):
    """The names a tool must report as skipped: file names without extension (the frame folder is
    listed as ``<name>.avi`` and found as the folder ``<name>``)."""
    return sorted(os.path.splitext(os.path.basename(paths[kind]))[0] for kind in UNREADABLE)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny R3D-18 checkpoint (random weights) in the shared format: what every evaluation loads."""
    torch.manual_seed(0)
    backbone = build_backbone("r3d_18", width=0.125)
    contract = InputContract(frames=8, stride=1, size=32, input_mode="residual", standardize="per_clip")
    path = str(tmp_path_factory.mktemp("checkpoint") / "tiny.pt")
    save_checkpoint(make_checkpoint("tclr", backbone, contract, config={"arch": "r3d_18"}), path)
    return path
