"""What the data path costs as a dataset grows: probe, index, first batch, loader memory.

    python scripts/bench/bench_scale.py [--sizes 1000,5000,20000] [--out_dir DIR] [--target 240000 --cores 16]

For each size N it writes a Kinetics-style dataset (N 10-second 128x96 H.264 clips in class folders and the
CSV ``label,youtube_id,time_start,time_end,split``, with 0.5% of the rows missing on disk and 0.2%
of the clips broken) and measures, in this order:

* the index: parsing the CSV and finding the clips under the root (median of 3);
* the probe of every clip, cold (no probe cache) with all cores and with one, and cached;
* the time from a fresh ``python`` to the first batch of a 2-worker loader, cold and cached
  (imports, index, probe, dataset, first samples; the model is not built);
* loader worker memory at the start and the end of one epoch (every clip read once): resident
  (RSS) and private (USS, the pages a worker no longer shares with the training process);
* bytes per video of the probe cache and of the index in a dataset (``RecordTable``).

The probe's cost per video, packets against a full decode, is measured on these clips and on
Kinetics-like ones (10 s, 340x256, 30 fps, H.264 with B-frames). The last table extrapolates the
time before the first step to ``--target`` videos on ``--cores`` cores from the Kinetics-like
costs, with its assumptions printed beside it. Files are read from the page cache (they were just
written): a network file system's latency per file is not in these numbers.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from videossl.data.indexes import kinetics_index  # noqa: E402
from videossl.data.probe_cache import cache_folder_for, verify_frame_counts  # noqa: E402
from videossl.data.record_table import RecordTable  # noqa: E402
from videossl.data.synthetic import CLASS_NAMES, render_video  # noqa: E402
from videossl.video import probe_video  # noqa: E402
from videossl.video.writer import write_video  # noqa: E402

DISTINCT = 200  # clips actually encoded; the rest of a dataset are copies of them (distinct files)
MISSING, BROKEN = 0.005, 0.002


def clip_name(i: int) -> tuple[str, int, int]:
    return f"yt{i:09d}", i % 50, i % 50 + 10


def write_distinct(folder: str, count: int, frames: int = 250) -> list[str]:
    """``count`` clips of Kinetics' length (10 s at 25 fps) at 128x96, a key frame every 24 frames."""
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in tqdm(range(count), desc="encoding clips", leave=False):
        path = os.path.join(folder, f"d{i:04d}.mp4")
        if not os.path.exists(path):
            video = render_video(CLASS_NAMES[i % len(CLASS_NAMES)], rng, frames, 96, 128)
            write_video(path, video, fps=25, bframes=2, gop=24)
        paths.append(path)
    return paths


def write_dataset(root: str, n: int, distinct: list[str]) -> str:
    """N clips under ``root/train/<label>/`` and ``root/train.csv``; returns the CSV's path."""
    rng = np.random.default_rng(n)
    labels = [f"class_{k:03d}" for k in range(40)]
    csv_path = os.path.join(root, "train.csv")
    if os.path.exists(csv_path):
        return csv_path
    missing = set(rng.choice(n, max(1, int(n * MISSING)), replace=False).tolist())
    broken = set(rng.choice(sorted(set(range(n)) - missing), max(1, int(n * BROKEN)), replace=False).tolist())
    rows = []
    for i in tqdm(range(n), desc=f"writing {n} clips", leave=False):
        label = labels[i % len(labels)]
        youtube_id, start, end = clip_name(i)
        rows.append({"label": label, "youtube_id": youtube_id, "time_start": start, "time_end": end, "split": "train"})
        if i in missing:
            continue
        folder = os.path.join(root, "train", label)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{youtube_id}_{start:06d}_{end:06d}.mp4")
        if i in broken:
            with open(distinct[i % len(distinct)], "rb") as f:
                open(path, "wb").write(f.read()[: 1000 + i % 500])  # cut inside the header or the first frames
        else:
            shutil.copyfile(distinct[i % len(distinct)], path)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def median_seconds(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def probe_costs(paths: list[str], rounds: int = 3) -> dict:
    """Milliseconds per video of each probe in this process (median of rounds over ``paths``)."""
    costs = {}
    for method in ("packets", "decode"):
        probe_all = lambda method=method: [probe_video(p, method) for p in paths]  # noqa: E731
        costs[method] = 1000 * median_seconds(probe_all, rounds) / len(paths)
    return costs


def kinetics_like(folder: str, count: int = 6) -> list[str]:
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        path = os.path.join(folder, f"k{i}.mp4")
        if not os.path.exists(path):
            video = render_video(CLASS_NAMES[i % len(CLASS_NAMES)], rng, 300, 256, 340)
            write_video(path, video, fps=30, bframes=3, gop=250)  # x264's default key-frame interval
        paths.append(path)
    return paths


def four_frames(reader, rng) -> dict:
    """A sample of four frames: enough to open, seek and decode every clip."""
    import torch

    idx = np.linspace(0, reader.num_frames - 1, 4).round().astype(int)
    return {"clip": torch.from_numpy(reader.get_frames(idx))}


def process_memory() -> tuple[int, int]:
    """(RSS, USS) of this process in bytes: resident, and resident in pages no other process shares."""
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return fields["Rss"], fields["Private_Clean"] + fields["Private_Dirty"]


def frames_and_memory(reader, rng) -> dict:
    import torch

    sample = four_frames(reader, rng)
    info = torch.utils.data.get_worker_info()
    rss, uss = process_memory()
    return {**sample, "worker": info.id if info else -1, "rss": rss, "uss": uss}


# A fresh process loading the index as the training commands do (the model is not built).
LOAD_INDEX = """
import json, sys
sys.path.insert(0, {root!r})
from argparse import Namespace
from torch.utils.data import DataLoader
from scripts.bench.bench_scale import four_frames, frames_and_memory
from videossl.data.args import index_from_args
from videossl.data.dataset import VideoClipDataset, collate_samples, worker_options
args = Namespace(dataset="kinetics", data_root={data_root!r}, list_file={csv!r}, test_list_file=None, split_dir=None,
                 split=1, skip_missing=True, labels=None, decode_timeout=120.0, cache_dir={cache!r}, probe="packets")
index = index_from_args(args, "train", progress=False)
"""
FIRST_BATCH = """
loader = DataLoader(VideoClipDataset(index, four_frames), batch_size=16, shuffle=True, collate_fn=collate_samples,
                    **worker_options(2))
next(iter(loader))
"""
ONE_EPOCH = """
dataset = VideoClipDataset(index, frames_and_memory)
if not {flat!r}:
    dataset.index = index  # the index's own list of per-video objects
del index
loader = DataLoader(dataset, batch_size=32, shuffle=True, collate_fn=collate_samples, **worker_options(2))
first, last = {{}}, {{}}
for batch in loader:
    for worker, rss, uss in zip(batch["worker"].tolist(), batch["rss"].tolist(), batch["uss"].tolist()):
        first.setdefault(worker, (rss, uss))
        last[worker] = (rss, uss)
print(json.dumps({{worker: (first[worker], last[worker]) for worker in sorted(first)}}))
"""


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True).stdout


def seconds_to_first_batch(data_root: str, csv_path: str, cache: str) -> float:
    start = time.perf_counter()
    run_python(LOAD_INDEX.format(root=ROOT, data_root=data_root, csv=csv_path, cache=cache) + FIRST_BATCH)
    return time.perf_counter() - start


def worker_memory(data_root: str, csv_path: str, cache: str, flat: bool = True) -> dict:
    """Each loader worker's (RSS, USS) at its first and its last sample of one epoch, in a fresh
    process that loads the index as the training commands do (probe cache present)."""
    code = LOAD_INDEX.format(root=ROOT, data_root=data_root, csv=csv_path, cache=cache) + ONE_EPOCH.format(flat=flat)
    return {int(worker): values for worker, values in json.loads(run_python(code).splitlines()[-1]).items()}


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))


def measure_size(out_dir: str, n: int, distinct: list[str], cores: int) -> dict:
    root = os.path.join(out_dir, f"n{n}")
    csv_path = write_dataset(root, n, distinct)

    def build():
        with contextlib.redirect_stdout(io.StringIO()):  # the count of missing clips, once per build
            return kinetics_index(root, csv_path, "train")

    row = {"n": n, "index_s": median_seconds(build)}
    index = build()
    row["listed"], row["on_disk"] = n, len(index)

    def cold_probe(workers, probe="packets"):
        cache = tempfile.mkdtemp(dir=out_dir, prefix="cache-")
        start = time.perf_counter()
        verify_frame_counts(build(), cache_dir=cache, workers=workers, progress=False, probe=probe)
        return time.perf_counter() - start, cache

    row["probe_all_s"], cache = cold_probe(cores)
    row["probe_one_s"], _ = cold_probe(0)
    row["decode_all_s"], _ = cold_probe(cores, "decode")
    row["cached_s"] = median_seconds(lambda: verify_frame_counts(build(), cache_dir=cache, progress=False))
    verified = verify_frame_counts(build(), cache_dir=cache, progress=False)
    row["unreadable"] = sum(1 for r in verified.records if r.error)
    row["decoded"] = sum(1 for r in verified.records if r.info is not None and r.info.probe != "packets")
    row["cache_bytes"] = folder_bytes(cache_folder_for(root, cache)) / len(index)
    row["table_bytes"] = RecordTable(verified.records).nbytes() / len(index)
    row["first_cold_s"] = seconds_to_first_batch(root, csv_path, tempfile.mkdtemp(dir=out_dir, prefix="cache-"))
    row["first_cached_s"] = seconds_to_first_batch(root, csv_path, cache)
    row["memory"] = worker_memory(root, csv_path, cache)
    row["cache"] = cache
    return row


def mib(value: float) -> str:
    return f"{value / 2**20:.0f}"


def growth(before_after) -> str:
    (rss0, uss0), (rss1, uss1) = before_after
    return f"{mib(rss0)} → {mib(rss1)} ({100 * (rss1 - rss0) / rss0:+.1f}%) | {mib(uss0)} → {mib(uss1)}"


def print_tables(rows: list[dict], costs: dict, baseline: dict) -> None:
    print(
        "\n| videos (listed / on disk) | index s | probe cold, all cores s | 1 core s | decoding probe, all cores s "
        "| cached s | first batch cold s | cached s | decoded / unreadable | cache B/video | table B/video |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['listed']} / {r['on_disk']} | {r['index_s']:.2f} | {r['probe_all_s']:.1f} | {r['probe_one_s']:.1f} "
            f"| {r['decode_all_s']:.1f} | {r['cached_s']:.2f} | {r['first_cold_s']:.1f} | {r['first_cached_s']:.1f} "
            f"| {r['decoded']} / {r['unreadable']} | {r['cache_bytes']:.0f} | {r['table_bytes']:.0f} |"
        )
    print("\n| videos | worker | RSS MiB, first → last sample of the epoch | USS MiB |")
    print("|---|---|---|---|")
    for r in rows:
        for worker, before_after in r["memory"].items():
            print(f"| {r['n']} | {worker} | {growth(before_after)} |")
    for worker, before_after in baseline.items():
        print(f"| {rows[-1]['n']}, per-video objects | {worker} | {growth(before_after)} |")
    print("\n| probe cost per video, 1 process | packets ms | decode ms | decode / packets |")
    print("|---|---|---|---|")
    for name, c in costs.items():
        print(f"| {name} | {c['packets']:.2f} | {c['decode']:.2f} | {c['decode'] / c['packets']:.1f}x |")


def extrapolate(rows: list[dict], costs: dict, target: int, cores: int, cores_here: int) -> None:
    """The time before the first step on ``target`` videos and ``cores`` cores, from the two largest
    sizes measured here (slopes per video) and the probe's cost on the Kinetics-like clips."""
    small, large = rows[-2], rows[-1]
    extra = target - large["on_disk"]

    def slope(key):
        return (large[key] - small[key]) / (large["on_disk"] - small["on_disk"])

    efficiency = large["probe_one_s"] / large["probe_all_s"] / cores_here
    decoded_share = large["decoded"] / large["on_disk"]
    bench, kinetics = costs["benchmark clip"], costs["Kinetics-like clip"]
    bookkeeping = max(0.0, large["probe_one_s"] / large["on_disk"] - bench["packets"] / 1000)  # cache, stat, pool
    packets_core = (kinetics["packets"] + decoded_share * kinetics["decode"]) / 1000 + bookkeeping
    decode_core = kinetics["decode"] / 1000 + bookkeeping
    fixed = large["first_cached_s"] - large["cached_s"] - large["index_s"]  # imports, loader, first samples
    index_s = large["index_s"] + slope("index_s") * extra
    cached = fixed + index_s + large["cached_s"] + slope("cached_s") * extra
    print(f"\n| before the first step, {target} videos on {cores} cores | cold | probe cache present |")
    print("|---|---|---|")
    for name, per_core in (("packet probe (default)", packets_core), ("decoding probe (--probe decode)", decode_core)):
        cold = fixed + index_s + target * per_core / (cores * efficiency)
        print(f"| {name} | {cold / 60:.1f} min | {cached / 60:.1f} min |")
    print(
        f"\nAssumptions: one core probes a Kinetics-like clip from its packets in {kinetics['packets']:.1f} ms and "
        f"decodes it in {kinetics['decode']:.1f} ms (measured above), plus {1000 * bookkeeping:.2f} ms of "
        f"bookkeeping per video; {100 * decoded_share:.1f}% of the clips need a decode (this benchmark's share); "
        f"{cores} cores probe at the parallel efficiency measured here on {cores_here} ({efficiency:.2f}); the "
        f"index and the cache read grow linearly from {small['on_disk']} to {large['on_disk']} videos; "
        f"{fixed:.1f} s of imports, loader start and first samples. Not included: a network file system's latency "
        "per file, the model's construction, and Kinetics' longer decode where the first batch reads full clips."
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="comma-separated dataset sizes")
    parser.add_argument("--out_dir", default=os.path.join(tempfile.gettempdir(), "videossl_bench_scale"))
    parser.add_argument("--distinct", type=int, default=DISTINCT, help="clips encoded (the rest are copies)")
    parser.add_argument("--kinetics_like", type=int, default=6, help="Kinetics-like clips timed for the probe cost")
    parser.add_argument("--target", type=int, default=240_000, help="videos of the extrapolation (Kinetics-400)")
    parser.add_argument("--cores", type=int, default=16, help="cores of the extrapolation")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if len(sizes) < 2:
        parser.error("--sizes needs at least two sizes (the extrapolation uses the growth between the last two)")
    cores_here = os.cpu_count() or 1
    distinct = write_distinct(os.path.join(args.out_dir, "distinct"), args.distinct)
    kinetics = kinetics_like(os.path.join(args.out_dir, "kinetics_like"), args.kinetics_like)
    costs = {"benchmark clip": probe_costs(distinct[:100]), "Kinetics-like clip": probe_costs(kinetics)}
    rows = [measure_size(args.out_dir, n, distinct, cores_here) for n in sizes]
    largest = os.path.join(args.out_dir, f"n{sizes[-1]}")
    baseline = worker_memory(largest, os.path.join(largest, "train.csv"), rows[-1]["cache"], flat=False)
    print(
        f"\nMachine: {machine()}; clips: 250 frames of 128x96 (benchmark), 300 of 340x256 (Kinetics-like); "
        "loader: 2 workers, batch 32, 4 frames per clip."
    )
    print_tables(rows, costs, baseline)
    extrapolate(rows, costs, args.target, args.cores, cores_here)
    return 0


if __name__ == "__main__":
    sys.exit(main())
