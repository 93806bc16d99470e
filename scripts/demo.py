"""`make demo`: the whole pipeline on the synthetic motion dataset, with no download.

1. generate the demo-scale synthetic dataset (10 motion classes, 400 videos; cached between runs)
   and check it;
2. pretrain TCLR with a tiny R3D-18 (reused when finished, resumed when interrupted);
3. evaluate the pretrained backbone and the same backbone at random initialisation: linear probe
   and nearest-neighbour retrieval (scripts/run_matrix.py does 2-3 for any set of methods);
4. pictures: loss curves, a dataset-level t-SNE, a single-video t-SNE MP4, retrieval strips;
5. results/demo/report.md with the table and the pictures; the table is printed.

On a CUDA machine the same command uses the GPU (every tool defaults to --device auto).
"""

import argparse
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

from scripts.run_matrix import COLUMNS, SCALES, prepare_data, run_matrix, write_matrix  # noqa: E402
from videossl.data.indexes import build_index  # noqa: E402

OUT = os.path.join(ROOT, "results", "demo")


def plot_loss_curves(history, path, title):
    """Per-epoch mean of the total loss and of each term."""
    epochs = [h["epoch"] for h in history]
    skip = {"epoch", "lr", "skipped_steps", "seconds", "clips_per_s"}
    terms = [k for k in history[0] if k not in skip]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for term in terms:
        ax.plot(epochs, [h.get(term) for h in history], marker="o", markersize=3,
                linewidth=2.2 if term == "loss" else 1.2, label="total" if term == "loss" else term)
    ax.set_xlabel("epoch"), ax.set_ylabel("loss (epoch mean)"), ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tsne_pictures(checkpoint, video_root, split_dir, out_dir, num_workers):
    """The dataset-level t-SNE (one point per test video) and one test video's trajectory MP4."""
    from tsne import make_tsne

    common = ["--saved_model", checkpoint, "--data_root", video_root, "--split_dir", split_dir,
              "--num_workers", str(num_workers)]
    dataset_png = os.path.join(out_dir, "tsne_dataset", "tsne_test_videos.png")
    make_tsne.main(common + ["--output", dataset_png])
    video = build_index("ucf101", video_root, split_dir, 1, "test").records[0].path
    video_mp4 = os.path.join(out_dir, "tsne_video", "trajectory.mp4")
    make_tsne.main(common + ["--vid", "--input", video, "--output", video_mp4])
    return dataset_png, video_mp4, video


def gaps(random_row, pretrained_row):
    """'linear top-1 +x, R@1 (tclr protocol) +y, ...': the pretrained row minus the random-init row."""
    names = {"linear top-1": "linear top-1", "R@1 tclr": "R@1 (tclr protocol)", "R@1 pooled": "R@1 (pooled)",
             "R@1 coclr": "R@1 (coclr)"}
    return ", ".join(f"{label} {pretrained_row[key] - random_row[key]:+.1f}" for key, label in names.items())


def write_report(path, table, rows, pictures, commands, seconds):
    lines = ["# Demo: TCLR on the synthetic motion dataset", "",
             "Synthetic videos in the UCF101 layout: 10 classes defined only by motion, 280 training and 120 "
             "test videos (disjoint groups), 32 frames of 64x64. Tiny R3D-18 (width 0.125) on 32 px clips of "
             "frame differences. Linear: one linear layer on cached features (10 clips per video). Retrieval: "
             "test videos query the training videos; chance R@1 = 10. One R@1 point is about one query of "
             "120.", "", table, ""]
    random_row, tclr_row = rows[0][1], rows[1][1]
    lines += [f"TCLR minus random init: {gaps(random_row, tclr_row)}.", "",
              f"Whole demo: {seconds:.0f} s.", ""]
    for caption, picture in pictures:
        lines += [f"## {caption}", "", f"![{caption}]({os.path.relpath(picture, os.path.dirname(path))})", ""]
    lines += ["## Reproduce one step at a time", "", "```bash", *commands, "```", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES), help="tiny: a one-minute smoke run")
    parser.add_argument("--out_dir", default=OUT)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--data_dir", default=None, help="where the synthetic dataset goes (default: "
                                                         "data/synthetic/<scale>)")
    args = parser.parse_args(argv)
    started = time.time()
    out = args.out_dir
    os.makedirs(out, exist_ok=True)

    print("== 1. synthetic motion dataset")
    video_root, split_dir = prepare_data(args.scale, args.data_dir)
    print(f"videos: {video_root}\nsplits: {split_dir}")
    check = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_dataset.py"), "--data_root",
                            video_root, "--split_dir", split_dir, "--min_frames", "16"])
    if check.returncode != 0:
        return check.returncode

    print("\n== 2-3. TCLR pretraining, then linear probe and retrieval (pretrained and random init)")
    matrix = run_matrix(["tclr"], args.scale, out, args.num_workers, data_dir=args.data_dir)
    table = write_matrix(matrix, out)
    checkpoint = matrix["checkpoints"]["tclr"]

    print("\n== 4. pictures")
    loss_png = plot_loss_curves(matrix["histories"]["tclr"], os.path.join(out, "loss_curves.png"),
                                "TCLR pretraining on the synthetic set: loss per epoch")
    dataset_png, video_mp4, video = tsne_pictures(checkpoint, video_root, split_dir, out, args.num_workers)
    pictures = [("TCLR pretraining loss", loss_png),
                ("Retrieval with TCLR features (queries left, green = same class)",
                 os.path.join(out, "tclr", "eval", "retrieval_tclr", "retrieval.png")),
                ("Retrieval with the random-init backbone",
                 os.path.join(out, "random_init", "retrieval_tclr", "retrieval.png")),
                ("t-SNE of the TCLR features of the test videos", dataset_png)]
    commands = [
        f"python tclr_pretraining/train_gen_all_step.py --preset demo --run_id demo --out_dir {out}/tclr "
        f"--data_root {video_root}" + (f" --epochs {SCALES[args.scale]['epochs']} --batch_size "
                                      f"{SCALES[args.scale]['batch_size']}" if "epochs" in SCALES[args.scale] else ""),
        f"python linear_eval/train.py --linear --saved_model {checkpoint} --data_root {video_root}",
        f"python nn_retrieval/complete_retrieval.py --run_id demo --saved_model {checkpoint} --data_root {video_root}",
        f"python nn_retrieval/complete_retrieval.py --run_id demo_random --saved_model {checkpoint} --random_init "
        f"--data_root {video_root}",
        f"python tsne/make_tsne.py --vid --input {video} --output {video_mp4} --saved_model {checkpoint}",
    ]
    seconds = time.time() - started
    report = write_report(os.path.join(out, "report.md"), table, matrix["rows"], pictures, commands, seconds)

    print(f"\n== results (synthetic motion dataset, {args.scale} scale; chance top-1 / R@1 = "
          f"{100 / SCALES[args.scale]['data'].classes:.0f})\n\n{table}\n")
    print(f"TCLR minus random init: {gaps(matrix['rows'][0][1], matrix['rows'][1][1])} points")
    print("columns: " + ", ".join(COLUMNS) + " (R@k: test videos query the training videos; tclr/pooled/coclr: "
          "retrieval protocols)")
    print(f"\nwritten:\n  report      {report}\n  table       {os.path.join(out, 'matrix.md')}\n"
          f"  loss curves {loss_png}\n  t-SNE       {dataset_png}\n  t-SNE video {video_mp4}\n"
          f"  retrieval   {pictures[1][1]}\n  checkpoint  {checkpoint}\n"
          f"  TensorBoard {os.path.join(out, 'tclr', 'logs')}\n\ndemo finished in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    from videossl.cli import run_cli

    sys.exit(run_cli(main))
