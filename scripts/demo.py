"""`make demo`: the whole pipeline on the synthetic motion dataset, with no download.

1. generate the demo-scale synthetic benchmark (14 motion classes, 616 videos, each also labelled
   with its object's kind; cached between runs) and check it;
2. pretrain TCLR with a tiny R3D-18 (reused when finished, resumed when interrupted), with the
   online kNN monitor;
3. evaluate the pretrained backbone and the same backbone at random initialisation on both label
   axes (motion, appearance): linear probe and nearest-neighbour retrieval (scripts/run_matrix.py
   does 2-3 for any set of methods and seeds);
4. pictures: loss and kNN curves, a dataset-level t-SNE, a single-video t-SNE MP4, retrieval strips;
5. results/demo/report.md with the tables and the pictures; the tables are printed.

On a CUDA machine the same command uses the GPU (every tool defaults to --device auto).
"""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scripts.run_matrix import AXES, SCALES, evaluation_argv, prepare_data, run_seed, summarise, write_matrix  # noqa: E402
from videossl.cli import ArgumentParser  # noqa: E402
from videossl.data.indexes import build_index  # noqa: E402

OUT = os.path.join(ROOT, "results", "demo")


def save_epoch_plot(ax, fig, ylabel, title, path):
    """The shared finish of the per-epoch line plots: labels, grid, legend, written to ``path``."""
    ax.set_xlabel("epoch"), ax.set_ylabel(ylabel), ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_loss_curves(history, path, title):
    """Per-epoch mean of the total loss and of each term."""
    epochs = [h["epoch"] for h in history]
    skip = {"epoch", "lr", "skipped_steps", "seconds", "clips_per_s", "knn_top1", "knn_seconds"}
    terms = [k for k in history[0] if k not in skip]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for term in terms:
        ax.plot(
            epochs,
            [h.get(term) for h in history],
            marker="o",
            markersize=3,
            linewidth=2.2 if term == "loss" else 1.2,
            label="total" if term == "loss" else term,
        )
    return save_epoch_plot(ax, fig, "loss (epoch mean)", title, path)


def plot_knn_curves(histories, path, chance):
    """kNN top-1 of the held-out videos against the epoch, one line per pretraining."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, history in histories.items():
        points = [(h["epoch"], h["knn_top1"]) for h in history if "knn_top1" in h]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=3, label=name)
    ax.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
    return save_epoch_plot(
        ax, fig, "kNN top-1 (test videos, %)", "online kNN monitor (k 20, temperature 0.07; motion labels)", path
    )


def knn_overhead(history):
    """kNN monitor seconds as a share of the pretraining's training seconds."""
    train = sum(h.get("seconds", 0.0) for h in history)
    return sum(h.get("knn_seconds", 0.0) for h in history) / train if train else 0.0


def tsne_pictures(checkpoint, video_root, split_dir, out_dir, num_workers):
    """The dataset-level t-SNE (one point per test video) and one test video's trajectory MP4."""
    from tsne import make_tsne

    common = evaluation_argv(checkpoint, video_root, split_dir, num_workers)
    dataset_png = os.path.join(out_dir, "tsne_dataset", "tsne_test_videos.png")
    make_tsne.main(common + ["--output", dataset_png])
    video = build_index("ucf101", video_root, split_dir, 1, "test").records[0].path
    video_mp4 = os.path.join(out_dir, "tsne_video", "trajectory.mp4")
    make_tsne.main(common + ["--vid", "--input", video, "--output", video_mp4])
    return dataset_png, video_mp4, video


def gaps(random_row, pretrained_row):
    """'motion axis: linear top-1 +x, R@1 (tclr protocol) +y, ...; appearance axis: ...'."""
    names = {"linear top-1": "linear top-1", "R@1 tclr": "R@1 (tclr protocol)", "R@1 pooled": "R@1 (pooled)"}
    return "; ".join(
        f"{axis} axis: "
        + ", ".join(
            f"{label} {pretrained_row['axes'][axis][key] - random_row['axes'][axis][key]:+.1f}"
            for key, label in names.items()
        )
        for axis in AXES
    )


def write_report(path, table, rows, pictures, commands, seconds, overhead, data):
    test_videos = sum(1 for _ in open(os.path.join(data["splits"], "testlist01.txt")))
    train_videos = sum(1 for _ in open(os.path.join(data["splits"], "trainlist01.txt")))
    lines = [
        "# Demo: TCLR on the synthetic benchmark",
        "",
        f"Synthetic videos in the UCF101 layout, each with a motion class (the split's labels; some classes "
        f"differ only in the order or the speed of the same movement) and an appearance class (the moving "
        f"object's kind, a shape with its fill pattern; `appearance_labels.txt`): {train_videos} training and "
        f"{test_videos} test videos "
        f"(disjoint groups). Tiny R3D-18 (width 0.125) on 32 px clips of frame differences. Linear: one "
        f"linear layer on cached features (10 clips per video). Retrieval: test videos query the training "
        f"videos. One seed: scripts/run_matrix.py --seeds 0,1,2 gives the spread.",
        "",
        table,
        "",
    ]
    random_row, tclr_row = rows[0], rows[1]
    lines += [
        f"TCLR minus random init: {gaps(random_row, tclr_row)}.",
        "",
        f"The online kNN monitor took {100 * overhead:.1f}% of the pretraining's training time.",
        "",
        f"Whole demo: {seconds:.0f} s.",
        "",
    ]
    for caption, picture in pictures:
        lines += [f"## {caption}", "", f"![{caption}]({os.path.relpath(picture, os.path.dirname(path))})", ""]
    lines += ["## Reproduce one step at a time", "", "```bash", *commands, "```", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES), help="tiny: a one-minute smoke run")
    parser.add_argument("--out_dir", default=OUT)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument(
        "--data_dir", default=None, help="where the synthetic dataset goes (default: data/synthetic/<scale>)"
    )
    args = parser.parse_args(argv)
    started = time.time()
    out = args.out_dir
    os.makedirs(out, exist_ok=True)

    print("== 1. synthetic motion dataset")
    video_root, split_dir = prepare_data(args.scale, args.data_dir)
    print(f"videos: {video_root}\nsplits: {split_dir}")
    check = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "scripts", "check_dataset.py"),
            "--data_root",
            video_root,
            "--split_dir",
            split_dir,
            "--min_frames",
            "16",
        ]
    )
    if check.returncode != 0:
        return check.returncode

    print("\n== 2-3. TCLR pretraining, then linear probe and retrieval on both axes (pretrained and random init)")
    run = run_seed(["tclr"], args.scale, out, 0, args.num_workers, data_dir=args.data_dir)
    table = write_matrix(summarise([run]), [0], args.scale, out)
    checkpoint = run["checkpoints"]["tclr"]

    print("\n== 4. pictures")
    history = run["histories"]["tclr"]
    loss_png = plot_loss_curves(
        history, os.path.join(out, "loss_curves.png"), "TCLR pretraining on the synthetic set: loss per epoch"
    )
    knn_png = plot_knn_curves(
        run["histories"], os.path.join(out, "knn_curves.png"), 100 / SCALES[args.scale]["data"].classes
    )
    dataset_png, video_mp4, video = tsne_pictures(checkpoint, video_root, split_dir, out, args.num_workers)
    pictures = [
        ("TCLR pretraining loss", loss_png),
        ("kNN top-1 during pretraining", knn_png),
        ("Both axes, TCLR and random init", os.path.join(out, "matrix.png")),
        (
            "Retrieval with TCLR features (queries left, green = same class)",
            os.path.join(out, "tclr", "eval", "motion", "retrieval_tclr", "retrieval.png"),
        ),
        (
            "Retrieval with the random-init backbone",
            os.path.join(out, "tclr", "random_init", "motion", "retrieval_tclr", "retrieval.png"),
        ),
        ("t-SNE of the TCLR features of the test videos", dataset_png),
    ]
    commands = [
        f"python tclr_pretraining/train_gen_all_step.py --preset demo --run_id demo --out_dir {out}/tclr "
        f"--data_root {video_root}"
        + (
            f" --epochs {SCALES[args.scale]['epochs']} --batch_size {SCALES[args.scale]['batch_size']}"
            if "epochs" in SCALES[args.scale]
            else ""
        ),
        f"python linear_eval/train.py --linear --saved_model {checkpoint} --data_root {video_root}",
        f"python nn_retrieval/complete_retrieval.py --run_id demo --saved_model {checkpoint} --data_root {video_root}",
        f"python nn_retrieval/complete_retrieval.py --run_id demo_random --saved_model {checkpoint} --random_init "
        f"--data_root {video_root}",
        f"python tsne/make_tsne.py --vid --input {video} --output {video_mp4} --saved_model {checkpoint}",
    ]
    seconds = time.time() - started
    overhead = knn_overhead(history)
    report = write_report(
        os.path.join(out, "report.md"), table, run["rows"], pictures, commands, seconds, overhead, run["data"]
    )

    print(
        f"\n== results (synthetic benchmark, {args.scale} scale, seed 0; chance top-1 on the motion axis = "
        f"{100 / SCALES[args.scale]['data'].classes:.0f})\n\n{table}\n"
    )
    print(f"TCLR minus random init: {gaps(run['rows'][0], run['rows'][1])} points")
    print(f"kNN monitor: {100 * overhead:.1f}% of the training time")
    print(
        f"\nwritten:\n  report      {report}\n  table       {os.path.join(out, 'matrix.md')}\n"
        f"  loss curves {loss_png}\n  kNN curves  {knn_png}\n  t-SNE       {dataset_png}\n  t-SNE video {video_mp4}\n"
        f"  retrieval   {pictures[3][1]}\n  checkpoint  {checkpoint}\n"
        f"  TensorBoard {os.path.join(out, 'tclr', 'logs')}\n\ndemo finished in {seconds:.0f} s"
    )
    return 0


if __name__ == "__main__":
    from videossl.cli import run_cli

    sys.exit(run_cli(main))
