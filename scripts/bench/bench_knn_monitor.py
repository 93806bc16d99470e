"""What the online kNN monitor costs: its seconds against the training seconds of finished runs.

    python scripts/bench/bench_knn_monitor.py [RUN_FOLDER ...]   (default: results/matrix/demo)

Reads the history in every ``last.pt`` under the folders (``knn_seconds`` and ``seconds`` per epoch,
written by the pretraining scripts) and prints one row per run: epochs, kNN evaluations, training
seconds, kNN seconds and the kNN share of the training time. Both are measured in the same process
on the same machine, so the ratio holds even where the machine's speed varies between runs.
"""

import argparse
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from videossl.models.checkpoint import read_checkpoint_file  # noqa: E402


def run_costs(folder):
    """[(run name, epochs, evaluations, training seconds, kNN seconds)] of the runs under ``folder``."""
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "**", "last.pt"), recursive=True)):
        history = (read_checkpoint_file(path).get("training_state") or {}).get("history") or []
        knn = [h["knn_seconds"] for h in history if "knn_seconds" in h]
        train = sum(h.get("seconds", 0.0) for h in history)
        rows.append((os.path.relpath(os.path.dirname(path), folder), len(history), len(knn), train, sum(knn)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", default=[os.path.join(ROOT, "results", "matrix", "demo")])
    args = parser.parse_args(argv)
    rows = [row for folder in args.folders for row in run_costs(folder)]
    if not rows:
        print(f"no last.pt under {', '.join(args.folders)}", file=sys.stderr)
        return 2
    print("| run | epochs | kNN runs | training s | kNN s | kNN / training |")
    print("|---|---|---|---|---|---|")
    for name, epochs, runs, train, knn in rows:
        share = f"{100 * knn / train:.1f}%" if train else ""
        print(f"| {name} | {epochs} | {runs} | {train:.0f} | {knn:.1f} | {share} |")
    total_train, total_knn = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"| all | | | {total_train:.0f} | {total_knn:.1f} | {100 * total_knn / max(total_train, 1e-9):.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
