"""Every available method x every evaluation on the synthetic motion dataset, in one table.

    python scripts/run_matrix.py [--methods tclr,cvrl,vtdl,tce] [--scale demo|tiny] [--out_dir results/matrix]

Rows: the backbone at random initialisation, then each method's pretrained checkpoint. Columns:
linear top-1 (cached protocol), retrieval R@1 and R@5 (TCLR protocol) and R@1 under the pooled
and CoCLR protocols, pretraining seconds per epoch and clips per second. Written as Markdown and
JSON; a finished pretraining is reused
(delete its folder to train again) and an interrupted one resumes (--restart).
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from cvrl.recipe import RECIPE as CVRL_RECIPE  # noqa: E402
from tce.recipe import RECIPE as TCE_RECIPE  # noqa: E402
from tclr_pretraining.recipe import RECIPE as TCLR_RECIPE  # noqa: E402
from videossl.data.synthetic import SyntheticConfig, generate_dataset  # noqa: E402
from videossl.errors import UserError  # noqa: E402
from vtdl.recipe import RECIPE as VTDL_RECIPE  # noqa: E402

# Dataset sizes. "demo" is what `make demo` runs (its pretraining recipes are each method's `demo`
# preset: about 4 minutes of TCLR on 2 CPU cores); "tiny" is a smoke test of the whole pipeline in
# well under a minute (the demo presets with 2 epochs and batch 3).
SCALES = {
    "demo": {"data": SyntheticConfig(classes=10, videos_per_class=40, frames=32, width=64, height=64, seed=0),
             "num_clips": 10},
    "tiny": {"data": SyntheticConfig(classes=3, videos_per_class=6, frames=24, width=32, height=32, seed=0),
             "epochs": 2, "batch_size": 3, "num_clips": 3},
}

# Every method pretrains with its `demo` preset (its recipe.py says what and why): frame differences
# with per-clip standardisation, which the synthetic set needs for instance discrimination to learn
# motion rather than the random backgrounds (README, TCLR section), and no horizontal flips: the
# synthetic classes come in mirror pairs (MoveRight flipped is MoveLeft), so a flipped view would
# teach that two classes are one. TCE sees single frames, where the synthetic classes are invisible.
METHODS = {
    "tclr": {"script": os.path.join("tclr_pretraining", "train_gen_all_step.py"), "recipe": TCLR_RECIPE},
    "cvrl": {"script": os.path.join("cvrl", "train.py"), "recipe": CVRL_RECIPE},
    "vtdl": {"script": os.path.join("vtdl", "train.py"), "recipe": VTDL_RECIPE,
             # the paper's ablation rows
             "variants": [("vtdl baseline (no temporal negative, no TCA)", "_baseline", ["--no_temporal_negative",
                                                                                        "--no_tca"]),
                          ("vtdl + temporal negative", "_tn", ["--no_tca"]),
                          ("vtdl + temporal negative + TCA (full)", "", [])]},
    "tce": {"script": os.path.join("tce", "train.py"), "recipe": TCE_RECIPE},
}
PRESET = "demo"
RETRIEVAL_PROTOCOLS = ("tclr", "pooled", "coclr")


def prepare_data(scale, data_dir=None):
    """Generate (or reuse) the synthetic dataset of ``scale`` in ``data_dir`` (default
    data/synthetic/<scale>); returns (video root, split folder)."""
    folder = data_dir or os.path.join(ROOT, "data", "synthetic", scale)
    return generate_dataset(folder, SCALES[scale]["data"])


def variants(method):
    """[(row name, run id suffix, extra flags)]: one row per variant (VTDL's ablation rows)."""
    return METHODS[method].get("variants", [(method, "", [])])


def pretrain(method, scale, video_root, split_dir, out_dir, num_workers, log=print, suffix="", extra=(), seed=0,
             epochs=None):
    """Run (or reuse, or resume) a method's pretraining; returns (checkpoint path, history)."""
    from videossl.models.checkpoint import read_checkpoint_file

    spec = METHODS[method]
    epochs = epochs or SCALES[scale].get("epochs") or spec["recipe"].values(PRESET)["epochs"]
    run_dir, run_id = os.path.join(out_dir, method), scale + suffix
    last = os.path.join(run_dir, "ss_saved_models", run_id, "last.pt")
    command = [sys.executable, os.path.join(ROOT, spec["script"]), "--preset", PRESET, "--run_id", run_id,
               "--out_dir", run_dir, "--data_root", video_root, "--split_dir", split_dir, "--epochs", str(epochs),
               "--num_workers", str(num_workers), "--seed", str(seed), *extra]
    if "batch_size" in SCALES[scale]:  # a smoke run: the scale's small batch wins over the preset's
        command += ["--batch_size", str(SCALES[scale]["batch_size"])]
    if os.path.exists(last):
        done = read_checkpoint_file(last)
        if done["epoch"] >= epochs:
            log(f"{method}: reusing the finished pretraining in {os.path.dirname(last)}")
            return last, done["training_state"]["history"]
        command.append("--restart")
    log(f"{method}: pretraining {epochs} epochs -> {run_dir}")
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise UserError(f"{method} pretraining failed (command: {' '.join(command)})")
    return last, read_checkpoint_file(last)["training_state"]["history"]


def evaluate(checkpoint, video_root, split_dir, out_dir, num_clips, num_workers, random_init=False):
    """Linear probe and retrieval under every protocol (features extracted once, then cached)."""
    from linear_eval import train as linear_train
    from nn_retrieval import complete_retrieval

    common = ["--saved_model", checkpoint, "--data_root", video_root, "--split_dir", split_dir,
              "--num_workers", str(num_workers)] + (["--random_init"] if random_init else [])
    clips = ["--num_clips", str(num_clips)]
    metrics = {}
    for protocol in RETRIEVAL_PROTOCOLS:
        folder = os.path.join(out_dir, f"retrieval_{protocol}")
        pictures = "6" if protocol == "tclr" else "0"
        view = [] if protocol == "tclr" else clips  # TCLR's protocol takes its own 9 clips
        complete_retrieval.main(common + view + ["--protocol", protocol, "--out_dir", folder,
                                                 "--picture_queries", pictures])
        with open(os.path.join(folder, "results.json")) as f:
            results = json.load(f)
        for k in ("R@1", "R@5"):
            metrics[f"{k} {protocol}"] = results["metrics"][k]
    folder = os.path.join(out_dir, "linear")
    linear_train.main(common + clips + ["--linear", "--out_dir", folder])
    with open(os.path.join(folder, "results.json")) as f:
        results = json.load(f)
    metrics["linear top-1"] = results["metrics"]["top1"]
    metrics["feature seconds"] = results["feature_seconds"]
    return metrics


COLUMNS = ("linear top-1", "R@1 tclr", "R@5 tclr", "R@1 pooled", "R@1 coclr", "s/epoch", "clips/s")


def markdown_table(rows):
    lines = ["| row | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for name, values in rows:
        cells = []
        for column in COLUMNS:
            value = values.get(column)
            cells.append("" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_matrix(methods, scale, out_dir, num_workers=2, log=print, data_dir=None, seed=0, epochs=None):
    """{"rows": [(name, metrics)], "checkpoints": {row: path}, "histories": {row: [...]}, ...}."""
    video_root, split_dir = prepare_data(scale, data_dir)
    rows, checkpoints, histories = [], {}, {}
    for method in methods:
        for k, (name, suffix, extra) in enumerate(variants(method)):
            checkpoint, history = pretrain(method, scale, video_root, split_dir, out_dir, num_workers, log, suffix,
                                           extra, seed, epochs)
            checkpoints[name], histories[name] = checkpoint, history
            if k == 0:  # a random-init row per method: its backbone and input contract, random weights
                log(f"evaluating {method}'s backbone at random initialisation")
                random_metrics = evaluate(checkpoint, video_root, split_dir,
                                          os.path.join(out_dir, "random_init" + ("" if method == methods[0] else
                                                                                 f"_{method}")),
                                          SCALES[scale]["num_clips"], num_workers, random_init=True)
                rows.append((f"random init ({method}'s backbone and input)", random_metrics))
            log(f"evaluating {name}")
            metrics = evaluate(checkpoint, video_root, split_dir, os.path.join(out_dir, method, "eval" + suffix),
                               SCALES[scale]["num_clips"], num_workers)
            timed = [h for h in history if "seconds" in h]
            metrics["s/epoch"] = sum(h["seconds"] for h in timed) / max(len(timed), 1)
            metrics["clips/s"] = sum(h.get("clips_per_s", 0.0) for h in timed) / max(len(timed), 1)
            rows.append((name, metrics))
    return {"rows": rows, "checkpoints": checkpoints, "histories": histories,
            "data": {"videos": video_root, "splits": split_dir}, "scale": scale}


def write_matrix(matrix, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    table = markdown_table(matrix["rows"])
    with open(os.path.join(out_dir, "matrix.md"), "w") as f:
        f.write(f"# Method x evaluation matrix ({matrix['scale']} scale, synthetic motion dataset)\n\n{table}\n")
    with open(os.path.join(out_dir, "matrix.json"), "w") as f:
        json.dump({k: v for k, v in matrix.items() if k != "histories"}, f, indent=2, default=str)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="tclr,cvrl,vtdl,tce")
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES))
    parser.add_argument("--out_dir", default=os.path.join(ROOT, "results", "matrix"))
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--data_dir", default=None, help="where the synthetic dataset goes (default: "
                                                         "data/synthetic/<scale>)")
    parser.add_argument("--seed", type=int, default=0, help="pretraining seed (results go to <scale>_seed<N>)")
    parser.add_argument("--epochs", type=int, default=None, help="pretraining epochs of every method (default: "
                                                                 "each method's for the scale)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    started = time.time()
    folder = os.path.join(args.out_dir, args.scale + (f"_seed{args.seed}" if args.seed else "")
                          + (f"_{args.epochs}epochs" if args.epochs else ""))
    matrix = run_matrix(methods, args.scale, folder, args.num_workers, data_dir=args.data_dir, seed=args.seed,
                        epochs=args.epochs)
    table = write_matrix(matrix, folder)
    print(f"\n{table}\n\nwritten: {os.path.join(folder, 'matrix.md')} and matrix.json ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    from videossl.cli import run_cli

    sys.exit(run_cli(main))
