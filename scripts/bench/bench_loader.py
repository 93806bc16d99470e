"""TCLR-style samples per second: each video backend next to the published loading approach.

    python scripts/bench/bench_loader.py [--videos 12 --samples 60 --repeats 3 --out_dir DIR]

A sample is TCLR's: 2 views x (1 global + 4 local) = 10 clips of 16 frames at 112x112 from a
64-frame window. The videos are 320x240 MPEG-4 AVIs with B-frames, 100-300 frames long, in two
layouts: a key frame every 12 frames, and a single key frame at the start (as in many of
UCF101's XviD files). One process, one thread. The published approach reads every frame of
the video with OpenCV, then augments frame by frame with PIL. A last row reads the same videos
after ``scripts/prepare_videos.py`` (short side 128, no B-frames, a key frame every 8 frames).
Decoding and augmentation times are reported separately.

This project's samples leave the loader as uint8 RGB (a quarter of the bytes through worker
queues and host-to-device copies); the model's ``InputContract`` makes them float (and BGR, for
TCLR) on the model's device. The published loader hands over floats. So the table also gives
the rate with that conversion done on this CPU ("with float"), the cost of a CPU-only run.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image

from tclr_pretraining.augmentation import tclr_clip_augmentation
from tclr_pretraining.dataset import TCLRSampleBuilder
from tclr_pretraining.sampling import sample_global_and_local_clips
from videossl.data.input_contract import InputContract
from videossl.data.synthetic import CLASS_NAMES, render_video
from videossl.video import open_video, probe_video
from videossl.video.reencode import reencode_video
from videossl.video.writer import write_video


def make_videos(folder, count, gop, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = os.path.join(folder, f"v{i:03d}.avi")
        if not os.path.exists(path):
            frames = render_video(CLASS_NAMES[i % len(CLASS_NAMES)], rng, int(rng.integers(100, 301)), 240, 320)
            write_video(path, frames, fps=25, bframes=2, gop=gop)
        paths.append(path)
    return paths


# ---- the published approach: OpenCV reads the whole video, PIL augments frame by frame -------


def published_read_all_frames(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def published_augment_clip(frames, rng, size=112):
    """Parameters drawn once per clip, applied frame by frame on PIL images (as the reference code)."""
    h, w = frames[0].shape[:2]
    side = int(rng.uniform(0.6, 1.0) * min(h, w))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    ops = {
        name: rng.random() < p
        for name, p in (
            ("contrast", 0.25),
            ("hue", 0.3),
            ("saturation", 0.3),
            ("brightness", 0.3),
            ("gray", 0.175),
            ("flip", 0.5),
            ("erase", 0.5),
        )
    }
    factor = rng.uniform(0.75, 1.25)
    hue = rng.uniform(-0.1, 0.1)
    gamma = rng.uniform(0.75, 1.25)
    ex, ey, es = int(rng.integers(0, size - 18)), int(rng.integers(0, size - 18)), int(rng.integers(9, 19))
    out = []
    for frame in frames:
        image = Image.fromarray(frame)
        image = F.resized_crop(image, top, left, side, side, [size, size])
        if ops["contrast"]:
            image = F.adjust_contrast(image, factor)
        if ops["hue"]:
            image = F.adjust_hue(image, hue)
        if ops["saturation"]:
            image = F.adjust_saturation(image, factor)
        if ops["brightness"]:
            image = F.adjust_brightness(image, factor)
        if ops["gray"]:
            image = F.adjust_gamma(F.to_grayscale(image, num_output_channels=3), gamma)
        if ops["flip"]:
            image = F.hflip(image)
        tensor = F.to_tensor(image)
        if ops["erase"]:
            tensor[:, ey : ey + es, ex : ex + es] = 0
        out.append(tensor)
    return torch.stack(out, 1)


def published_sample(path, rng, timings):
    t0 = time.perf_counter()
    frames = published_read_all_frames(path)
    t1 = time.perf_counter()
    global_idx, local_idx = sample_global_and_local_clips(len(frames), rng)
    clips = []
    for _ in range(2):
        clips.append(published_augment_clip([frames[i] for i in global_idx], rng))
        clips.extend(published_augment_clip([frames[i] for i in local], rng) for local in local_idx)
    timings["decode"] += t1 - t0
    timings["augment"] += time.perf_counter() - t1
    return clips


# ---- this project's path --------------------------------------------------------------------


class TimedReader:
    """Wraps a reader to time ``get_frames`` separately from augmentation."""

    def __init__(self, reader, timings):
        self.reader, self.timings = reader, timings
        self.num_frames = reader.num_frames

    def get_frames(self, indices):
        t0 = time.perf_counter()
        frames = self.reader.get_frames(indices)
        self.timings["decode"] += time.perf_counter() - t0
        return frames


TCLR_CONTRACT = InputContract(channel_order="bgr")


def project_sample(path, info, backend, builder, rng, timings):
    t0 = time.perf_counter()
    with open_video(path, backend, info=info, threads=1) as reader:
        sample = builder(TimedReader(reader, timings), rng)
    t1 = time.perf_counter()
    timings["total"] += t1 - t0
    TCLR_CONTRACT.prepare(sample["clips"])
    timings["to_float"] += time.perf_counter() - t1
    return sample


def run(label, paths, samples, sample_fn):
    timings = {"decode": 0.0, "augment": 0.0, "total": 0.0, "to_float": 0.0}
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for k in range(samples):
        sample_fn(paths[k % len(paths)], rng, timings)
    elapsed = time.perf_counter() - start
    augment = timings["augment"] or (timings["total"] - timings["decode"])
    return {
        "label": label,
        "rate": samples / (elapsed - timings["to_float"]),
        "with_float": samples / elapsed,
        "decode_ms": 1000 * timings["decode"] / samples,
        "augment_ms": 1000 * augment / samples,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all rows; the median is shown")
    parser.add_argument("--backends", default="pyav,opencv,decord,decord_batch")
    parser.add_argument("--out_dir", default=os.path.join(tempfile.gettempdir(), "videossl_bench_loader"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    layouts = {
        "key frame every 12": make_videos(os.path.join(args.out_dir, "gop12"), args.videos, gop=12),
        "one key frame": make_videos(os.path.join(args.out_dir, "gop300"), args.videos, gop=300),
    }
    prepared = []
    for path in layouts["one key frame"]:
        dst = os.path.join(args.out_dir, "prepared", os.path.basename(path))
        if not os.path.exists(dst):
            reencode_video(path, dst, short_side=128, gop=8)
        prepared.append(dst)
    infos = {p: probe_video(p) for paths in list(layouts.values()) + [prepared] for p in paths}
    builder = TCLRSampleBuilder(tclr_clip_augmentation(112))
    lengths = [infos[p].num_frames for p in layouts["one key frame"]]
    print(
        f"{args.videos} videos per layout, 320x240, {min(lengths)}-{max(lengths)} frames; "
        f"{args.samples} samples per row, median of {args.repeats} rounds; 1 thread\n"
    )

    jobs = []
    for layout, paths in layouts.items():
        jobs.append(
            (f"published (OpenCV all frames + PIL), {layout}", paths, lambda p, rng, t: published_sample(p, rng, t))
        )
        for backend in args.backends.split(","):
            jobs.append(
                (
                    f"{backend}, {layout}",
                    paths,
                    lambda p, rng, t, b=backend: project_sample(p, infos[p], b, builder, rng, t),
                )
            )
    jobs.append(
        (
            "pyav, prepare_videos.py output (128 px, GOP 8)",
            prepared,
            lambda p, rng, t: project_sample(p, infos[p], "pyav", builder, rng, t),
        )
    )
    # Rounds over all rows, then the median round per row: this shared machine's speed drifts by
    # 20% within minutes, and interleaving keeps the drift out of the ratios.
    rounds = [[run(label, paths, args.samples, fn) for label, paths, fn in jobs] for _ in range(args.repeats)]
    rows = [
        {key: (statistics.median(r[key] for r in results) if key != "label" else results[0][key]) for key in results[0]}
        for results in zip(*rounds)
    ]

    baseline = {
        layout: next(r["rate"] for r in rows if r["label"].startswith("published") and layout in r["label"])
        for layout in layouts
    }
    print(f"| {'loader':58s} | samples/s | decode ms | augment ms | vs published | with float on CPU |")
    print(f"|{'-' * 60}|-----------|-----------|------------|--------------|-------------------|")
    for r in rows:
        layout = next((name for name in layouts if name in r["label"]), "one key frame")
        with_float = (
            ""
            if r["label"].startswith("published")
            else f"{r['with_float']:5.1f}/s = {r['with_float'] / baseline[layout]:.1f}x"
        )
        print(
            f"| {r['label']:58s} | {r['rate']:9.1f} | {r['decode_ms']:9.1f} | {r['augment_ms']:10.1f} | "
            f"{r['rate'] / baseline[layout]:11.1f}x | {with_float:>17s} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
