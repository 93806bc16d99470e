"""Every method x every evaluation on the synthetic benchmark, over seeds and both label axes.

    python scripts/run_matrix.py [--methods tclr,cvrl,vtdl,tce] [--scale demo|tiny] [--seeds 0,1,2]
                                 [--out_dir results/matrix]

For each seed: each method pretrains with its ``demo`` preset (VTDL: its three ablation rows), and
its checkpoint and the same backbone at random initialisation (the seed's) are evaluated on the
motion axis (the split's labels) and the appearance axis (the moving object's kind,
``appearance_labels.txt``; the same cached features): linear top-1 (cached protocol), R@1 and R@5
(TCLR's retrieval protocol) and R@1 (pooled protocol). The summary gives, per row and axis, the
mean, the standard deviation and the worst seed, and the paired gain over the method's own
random-init row (pretrained minus random init at the same seed). Written to
``<out_dir>/<scale>/matrix.md``, ``matrix.json`` and ``matrix.png`` (one bar chart per axis);
each seed's runs live in ``<scale>/seed<N>/``. A finished pretraining is reused (delete its
folder to train again) and an interrupted one resumes.
"""

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from cvrl.recipe import RECIPE as CVRL_RECIPE  # noqa: E402
from tce.recipe import RECIPE as TCE_RECIPE  # noqa: E402
from tclr_pretraining.recipe import RECIPE as TCLR_RECIPE  # noqa: E402
from videossl.cli import ArgumentParser  # noqa: E402
from videossl.data.synthetic import APPEARANCE_LABELS, BENCHMARK_MOTIONS, SyntheticConfig, generate_dataset  # noqa: E402
from videossl.errors import UserError  # noqa: E402
from vtdl.recipe import RECIPE as VTDL_RECIPE  # noqa: E402

# Dataset sizes. "demo" is what `make demo` runs (its pretraining recipes are each method's `demo`
# preset); "tiny" is a smoke test of the whole pipeline (the demo presets with 2 epochs and batch 3).
SCALES = {
    # 14 motion classes (BENCHMARK_MOTIONS), 44 videos each: 280 training and 336 test videos
    "demo": {
        "data": SyntheticConfig(
            classes=len(BENCHMARK_MOTIONS),
            motions=",".join(BENCHMARK_MOTIONS),
            videos_per_class=44,
            frames=32,
            width=64,
            height=64,
            seed=0,
            test_fraction=0.5,
        ),
        "num_clips": 10,
    },
    "tiny": {
        "data": SyntheticConfig(classes=3, videos_per_class=6, frames=24, width=32, height=32, seed=0),
        "epochs": 2,
        "batch_size": 3,
        "num_clips": 3,
    },
}

# Every method pretrains with its `demo` preset (its recipe.py says what and why): frame differences
# with per-clip standardisation, which the synthetic set needs for instance discrimination to learn
# motion rather than the random backgrounds (docs/benchmark.md, TCLR), and no horizontal flips: the
# synthetic classes come in mirror pairs (MoveRight flipped is MoveLeft), so a flipped view would
# teach that two classes are one. TCE sees single frames, where the motion classes are invisible.
METHODS = {
    "tclr": {"script": os.path.join("tclr_pretraining", "train_gen_all_step.py"), "recipe": TCLR_RECIPE},
    "cvrl": {"script": os.path.join("cvrl", "train.py"), "recipe": CVRL_RECIPE},
    "vtdl": {
        "script": os.path.join("vtdl", "train.py"),
        "recipe": VTDL_RECIPE,
        # the paper's ablation rows
        "variants": [
            ("vtdl baseline (no temporal negative, no TCA)", "_baseline", ["--no_temporal_negative", "--no_tca"]),
            ("vtdl + temporal negative", "_tn", ["--no_tca"]),
            ("vtdl + temporal negative + TCA (full)", "", []),
        ],
    },
    "tce": {"script": os.path.join("tce", "train.py"), "recipe": TCE_RECIPE},
}
PRESET = "demo"
AXES = ("motion", "appearance")
METRICS = ("linear top-1", "R@1 tclr", "R@5 tclr", "R@1 pooled")
SUMMARISED = ("linear top-1", "R@1 tclr")  # mean, std, worst seed and paired gain


def prepare_data(scale, data_dir=None):
    """Generate (or reuse) the synthetic dataset of ``scale`` in ``data_dir`` (default
    data/synthetic/<scale>); returns (video root, split folder)."""
    folder = data_dir or os.path.join(ROOT, "data", "synthetic", scale)
    return generate_dataset(folder, SCALES[scale]["data"])


def variants(method):
    """[(row name, run id suffix, extra flags)]: one row per variant (VTDL's ablation rows)."""
    return METHODS[method].get("variants", [(method, "", [])])


def random_row_name(method):
    return f"random init ({method}'s backbone and input)"


def pretrain(
    method, scale, video_root, split_dir, out_dir, num_workers, log=print, suffix="", extra=(), seed=0, epochs=None
):
    """Run (or reuse, or resume) a method's pretraining; returns (checkpoint path, history)."""
    from videossl.models.checkpoint import read_checkpoint_file

    spec = METHODS[method]
    epochs = epochs or SCALES[scale].get("epochs") or spec["recipe"].values(PRESET)["epochs"]
    run_dir, run_id = os.path.join(out_dir, method), scale + suffix
    last = os.path.join(run_dir, "ss_saved_models", run_id, "last.pt")
    command = [
        sys.executable,
        os.path.join(ROOT, spec["script"]),
        "--preset",
        PRESET,
        "--run_id",
        run_id,
        "--out_dir",
        run_dir,
        "--data_root",
        video_root,
        "--split_dir",
        split_dir,
        "--epochs",
        str(epochs),
        "--num_workers",
        str(num_workers),
        "--seed",
        str(seed),
        *extra,
    ]
    if "batch_size" in SCALES[scale]:  # a smoke run: the scale's small batch wins over the preset's
        command += ["--batch_size", str(SCALES[scale]["batch_size"])]
    if os.path.exists(last):
        done = read_checkpoint_file(last)
        if done["epoch"] >= epochs:
            log(f"{method}: reusing the finished pretraining in {os.path.dirname(last)}")
            return last, done["training_state"]["history"]
        command.append("--restart")
    log(f"{method}: pretraining {epochs} epochs (seed {seed}) -> {run_dir}")
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise UserError(f"{method} pretraining failed (command: {' '.join(command)})")
    return last, read_checkpoint_file(last)["training_state"]["history"]


def evaluation_argv(checkpoint, video_root, split_dir, num_workers):
    """The flags every evaluation tool gets here: the checkpoint and the synthetic set."""
    return ["--saved_model", checkpoint, "--data_root", video_root, "--split_dir", split_dir,
            "--num_workers", str(num_workers)]  # fmt: skip


def evaluate(checkpoint, video_root, split_dir, out_dir, num_clips, num_workers, random_init=False, seed=0):
    """{axis: metrics}: linear probe and retrieval (TCLR and pooled protocols) on both label axes
    (features extracted once per protocol, then cached)."""
    from linear_eval import train as linear_train
    from nn_retrieval import complete_retrieval

    common = evaluation_argv(checkpoint, video_root, split_dir, num_workers) + ["--seed", str(seed)]
    common += ["--random_init"] if random_init else []
    clips = ["--num_clips", str(num_clips)]
    results = {}
    for axis in AXES:
        labels = [] if axis == "motion" else ["--labels", os.path.join(split_dir, APPEARANCE_LABELS)]
        metrics = {}
        for protocol in ("tclr", "pooled"):
            folder = os.path.join(out_dir, axis, f"retrieval_{protocol}")
            pictures = "6" if protocol == "tclr" and axis == "motion" else "0"
            view = [] if protocol == "tclr" else clips  # TCLR's protocol takes its own 9 clips
            complete_retrieval.main(
                common + labels + view + ["--protocol", protocol, "--out_dir", folder, "--picture_queries", pictures]
            )
            with open(os.path.join(folder, "results.json")) as f:
                found = json.load(f)["metrics"]
            metrics[f"R@1 {protocol}"] = found["R@1"]
            if protocol == "tclr":
                metrics["R@5 tclr"] = found["R@5"]
        folder = os.path.join(out_dir, axis, "linear")
        linear_train.main(common + labels + clips + ["--linear", "--out_dir", folder])
        with open(os.path.join(folder, "results.json")) as f:
            metrics["linear top-1"] = json.load(f)["metrics"]["top1"]
        results[axis] = metrics
    return results


def run_seed(methods, scale, out_dir, seed, num_workers=2, log=print, data_dir=None, epochs=None):
    """One seed of the matrix: ``{"rows": [row], "checkpoints": {row name: path}, "histories": {...}}``;
    a row is ``{"name", "method", "random", "seed", "axes": {axis: metrics}, "s/epoch", "clips/s"}``."""
    video_root, split_dir = prepare_data(scale, data_dir)
    rows, checkpoints, histories = [], {}, {}
    for method in methods:
        for k, (name, suffix, extra) in enumerate(variants(method)):
            checkpoint, history = pretrain(
                method, scale, video_root, split_dir, out_dir, num_workers, log, suffix, extra, seed, epochs
            )
            checkpoints[name], histories[name] = checkpoint, history
            if k == 0:  # a random-init row per method: its backbone and input contract, the seed's weights
                log(f"evaluating {method}'s backbone at random initialisation (seed {seed})")
                axes = evaluate(
                    checkpoint,
                    video_root,
                    split_dir,
                    os.path.join(out_dir, method, "random_init"),
                    SCALES[scale]["num_clips"],
                    num_workers,
                    random_init=True,
                    seed=seed,
                )
                rows.append(
                    {"name": random_row_name(method), "method": method, "random": True, "seed": seed, "axes": axes}
                )
            log(f"evaluating {name} (seed {seed})")
            axes = evaluate(
                checkpoint,
                video_root,
                split_dir,
                os.path.join(out_dir, method, "eval" + suffix),
                SCALES[scale]["num_clips"],
                num_workers,
                seed=seed,
            )
            timed = [h for h in history if "seconds" in h]
            rows.append(
                {
                    "name": name,
                    "method": method,
                    "random": False,
                    "seed": seed,
                    "axes": axes,
                    "s/epoch": statistics.fmean(h["seconds"] for h in timed) if timed else None,
                    "clips/s": statistics.fmean(h.get("clips_per_s", 0.0) for h in timed) if timed else None,
                }
            )
    return {
        "rows": rows,
        "checkpoints": checkpoints,
        "histories": histories,
        "data": {"videos": video_root, "splits": split_dir},
        "scale": scale,
        "seed": seed,
    }


def spread(values):
    """{"mean", "std" (sample; 0 for one value), "worst", "values"}."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "worst": min(values),
        "values": list(values),
    }


def summarise(seed_runs):
    """[{"name", "method", "random", "axes": {axis: {metric: spread, "gain " + metric: spread}}}] in row
    order; gains pair each pretrained row with its method's random-init row at the same seed."""
    by_name = {}
    for run in seed_runs:
        for row in run["rows"]:
            by_name.setdefault(row["name"], []).append(row)
    random_of = {(row["method"], row["seed"]): row for rows in by_name.values() for row in rows if row["random"]}
    summary = []
    for name, rows in by_name.items():
        axes = {}
        for axis in AXES:
            stats = {metric: spread([row["axes"][axis][metric] for row in rows]) for metric in METRICS}
            if not rows[0]["random"]:
                for metric in SUMMARISED:
                    stats[f"gain {metric}"] = spread(
                        [
                            row["axes"][axis][metric] - random_of[(row["method"], row["seed"])]["axes"][axis][metric]
                            for row in rows
                        ]
                    )
            axes[axis] = stats
        timing = [row["s/epoch"] for row in rows if row.get("s/epoch")]
        summary.append(
            {
                "name": name,
                "method": rows[0]["method"],
                "random": rows[0]["random"],
                "axes": axes,
                "seeds": [row["seed"] for row in rows],
                "s/epoch": statistics.fmean(timing) if timing else None,
            }
        )
    return summary


def _cell(stat):
    return f"{stat['mean']:.1f} ± {stat['std']:.1f} ({stat['worst']:.1f})"


def markdown_table(summary, axis):
    header = ["row", "linear top-1", "R@1 tclr", "R@5 tclr", "R@1 pooled", "gain linear", "gain R@1 tclr", "s/epoch"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in summary:
        stats = row["axes"][axis]
        cells = [row["name"]] + [_cell(stats[m]) for m in METRICS]
        cells += [_cell(stats[f"gain {m}"]) if f"gain {m}" in stats else "" for m in SUMMARISED]
        cells.append(f"{row['s/epoch']:.1f}" if row["s/epoch"] else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bar_chart(summary, path):
    """One panel per axis: linear top-1 and R@1 (tclr) per row, mean with its seed spread (bars and
    error bars: mean ± std; dots: each seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    fig, panels = plt.subplots(1, len(AXES), figsize=(5 + 1.1 * len(summary), 4.2), squeeze=False)
    names = [row["name"] for row in summary]
    for ax, axis in zip(panels[0], AXES):
        for j, metric in enumerate(SUMMARISED):
            offsets = [i + (j - 0.5) * 0.38 for i in range(len(summary))]
            stats = [row["axes"][axis][metric] for row in summary]
            colours = [to_rgba(f"C{j}", 0.35 if row["random"] else 0.9) for row in summary]  # random init: pale
            ax.bar(
                offsets,
                [s["mean"] for s in stats],
                0.36,
                yerr=[s["std"] for s in stats],
                capsize=3,
                label=metric,
                color=colours,
            )
            for x, s in zip(offsets, stats):
                ax.scatter([x] * len(s["values"]), s["values"], s=9, color="black", zorder=3)
        ax.set_xticks(range(len(summary)))
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_title(f"{axis} axis", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_matrix(summary, seeds, scale, out_dir, extra=None):
    """matrix.md (one table per axis), matrix.json and matrix.png in ``out_dir``; returns the Markdown."""
    os.makedirs(out_dir, exist_ok=True)
    seeds_text = f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))})"
    parts = [
        f"# Method x evaluation matrix ({scale} scale, synthetic benchmark, {seeds_text})",
        "",
        "Cells: mean ± standard deviation over the seeds (worst seed). Gains: pretrained minus the method's "
        "own random-init row at the same seed.",
        "",
    ]
    for axis in AXES:
        parts += [f"## {axis} axis", "", markdown_table(summary, axis), ""]
    text = "\n".join(parts)
    with open(os.path.join(out_dir, "matrix.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "matrix.json"), "w") as f:
        json.dump({"scale": scale, "seeds": seeds, "summary": summary, **(extra or {})}, f, indent=2, default=str)
    bar_chart(summary, os.path.join(out_dir, "matrix.png"))
    return text


def parse_seeds(text):
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UserError("--seeds needs at least one seed")
    return seeds


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--methods", default="tclr,cvrl,vtdl,tce")
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES))
    parser.add_argument("--seeds", default="0", help="comma-separated pretraining (and random-init) seeds")
    parser.add_argument("--out_dir", default=os.path.join(ROOT, "results", "matrix"))
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument(
        "--data_dir", default=None, help="where the synthetic dataset goes (default: data/synthetic/<scale>)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="pretraining epochs of every method (default: each method's for the scale)",
    )
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    seeds = parse_seeds(args.seeds)
    started = time.time()
    folder = os.path.join(args.out_dir, args.scale + (f"_{args.epochs}epochs" if args.epochs else ""))
    runs = [
        run_seed(
            methods,
            args.scale,
            os.path.join(folder, f"seed{seed}"),
            seed,
            args.num_workers,
            data_dir=args.data_dir,
            epochs=args.epochs,
        )
        for seed in seeds
    ]
    summary = summarise(runs)
    text = write_matrix(
        summary, seeds, args.scale, folder, {"methods": methods, "rows_per_seed": [run["rows"] for run in runs]}
    )
    print(
        f"\n{text}\nwritten: {os.path.join(folder, 'matrix.md')}, matrix.json, matrix.png "
        f"({time.time() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    from videossl.cli import run_cli

    sys.exit(run_cli(main))
