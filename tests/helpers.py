"""Test helpers: videos whose frames carry their own index, tiny datasets, bad files."""

import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import torch

from videossl.data.synthetic import SyntheticConfig, generate_dataset
from videossl.video.writer import write_video

BITS = 12  # frame indices up to 4095
GRID = 4  # a 4x4 grid of blocks, the first 12 carry bits (white = 1)


def index_frame(i, height=64, width=64):
    """A frame showing the number ``i`` as big black/white blocks that survive lossy coding."""
    frame = np.zeros((height, width, 3), np.uint8)
    bh, bw = height // GRID, width // GRID
    for b in range(BITS):
        if (i >> b) & 1:
            r, c = divmod(b, GRID)
            frame[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = 255
    # The last blocks are mid grey with a colour tint, so colour conversion is exercised too.
    frame[3 * bh :, 0:bw] = (200, 60, 30)
    return frame


def read_index(frame):
    height, width = frame.shape[:2]
    bh, bw = height // GRID, width // GRID
    value = 0
    for b in range(BITS):
        r, c = divmod(b, GRID)
        block = frame[r * bh + 2 : (r + 1) * bh - 2, c * bw + 2 : (c + 1) * bw - 2]
        if block.mean() > 127:
            value |= 1 << b
    return value


def write_index_video(path, num_frames, height=64, width=64, bframes=2, gop=12):
    return write_video(
        path, (index_frame(i, height, width) for i in range(num_frames)), bframes=bframes, gop=gop, max_quantizer=4
    )


def write_index_frame_folder(folder, num_frames, pattern="frame{:06d}.jpg", height=64, width=64, first=1):
    os.makedirs(folder, exist_ok=True)
    for i in range(num_frames):
        cv2.imwrite(os.path.join(folder, pattern.format(i + first)), index_frame(i, height, width)[..., ::-1])
    return folder


def make_tiny_synthetic(out_dir, **overrides):
    config = SyntheticConfig(classes=3, videos_per_class=4, frames=20, width=32, height=32, seed=0)
    for key, value in overrides.items():
        setattr(config, key, value)
    return generate_dataset(str(out_dir), config, progress=False)


def write_bad_videos(folder):
    """The four kinds of bad file the issue names; returns {kind: path}."""
    os.makedirs(folder, exist_ok=True)
    paths = {}
    paths["zero_byte"] = os.path.join(folder, "v_zero_byte.avi")
    open(paths["zero_byte"], "wb").close()
    paths["text"] = os.path.join(folder, "v_text.avi")
    with open(paths["text"], "w") as f:
        f.write("this is not a video\n" * 50)
    full = os.path.join(folder, "full.tmp.avi")
    write_index_video(full, 60, 32, 32)
    data = open(full, "rb").read()
    os.remove(full)
    paths["truncated"] = os.path.join(folder, "v_truncated.avi")
    movi, index = data.find(b"movi"), data.find(b"idx1")
    with open(paths["truncated"], "wb") as f:
        f.write(data[: movi + (index - movi) * 7 // 10])  # cut mid-stream, index lost
    paths["five_frames"] = os.path.join(folder, "v_five_frames.avi")
    write_index_video(paths["five_frames"], 5, 32, 32)
    return paths


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_torchrun_script(script, args, cwd, processes=2, timeout=240):
    """Run a repository script under ``torchrun`` with ``processes`` CPU processes; a hang kills
    torchrun and its workers (the whole process group), a failure shows the end of stderr."""
    from tests.test_engine import _free_port

    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(processes),
        "--master_port",
        str(_free_port()),
        os.path.join(REPO, script),
        *args,
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(cwd),
        start_new_session=True,
    )
    code, _, stderr = communicate_or_kill(process, timeout)
    assert code == 0, stderr[-3000:]


def communicate_or_kill(process, timeout):
    """(exit code, stdout, stderr) of a process started with ``start_new_session=True``; if it is
    still running after ``timeout`` seconds, its whole process group is killed (no test hangs)."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, out, err


def perturbed(model):
    """Random weights and BatchNorm statistics, so that a round trip that drops anything shows."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if "running_var" in name else torch.randn_like(tensor) * 0.1)
    return model.eval()


def tiny_eval_args(tiny_synthetic, saved_model, num_clips=2):
    """An evaluation tool's command line on the tiny synthetic set, without loader workers."""
    root, split_dir = tiny_synthetic
    flags = {"saved_model": saved_model, "data_root": root, "split_dir": split_dir, "num_workers": 0}
    return [item for key, value in {**flags, "num_clips": num_clips}.items() for item in (f"--{key}", str(value))]


def tiny_run_args(tiny_synthetic, out_dir, flags, *extra):
    """A pretraining command line on the tiny synthetic set: run id 'tiny', one worker-free fp32
    process, a tiny backbone; ``flags`` ({flag: value}) are the method's own settings."""
    root, split_dir = tiny_synthetic
    common = {
        "run_id": "tiny",
        "out_dir": out_dir,
        "data_root": root,
        "split_dir": split_dir,
        "width": 0.125,
        "size": 32,
        "num_workers": 0,
        "precision": "fp32",
    }
    return [item for key, value in {**common, **flags}.items() for item in (f"--{key}", str(value))] + list(extra)
