"""Check a video dataset before training on it.

    python scripts/check_dataset.py --dataset ucf101 --data_root /data/UCF101 [--split 1] [--json report.json]
    python scripts/check_dataset.py --dataset kinetics --data_root /data/kinetics400/train \
        --list_file /data/kinetics400/train.csv

For each subset of the split it decodes every video once and prints the video and class counts
and these problems: missing files, unreadable files (cannot be opened or decode no frame),
truncated files (the decoder stops on an error, or decodes far fewer frames than the header
announces), videos shorter than ``--min_frames``, and header-vs-decoded frame-count mismatches.
Mismatches of a frame or two are normal for AVIs (the training code never trusts headers) and
count as problems only with ``--strict_header``. Exit status 1 when any problem is found.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # this checkout's code, whatever else is installed
    sys.path.insert(0, ROOT)

from videossl.cli import ArgumentParser, non_negative_int, positive_int, run_cli  # noqa: E402
from videossl.data.args import add_data_args, index_from_args  # noqa: E402
from videossl.data.indexes import DOWNSTREAM_DATASETS  # noqa: E402

SUBSETS = {
    "ucf101": ("train", "test"),
    "hmdb51": ("train", "test"),
    "kinetics": ("all",),
    "list": ("all",),
    "folder": ("all",),
    **{name: ("train", "test") for name in DOWNSTREAM_DATASETS},
}


def is_truncated(info, tolerance):
    if info.decode_error:
        return True
    return info.header_frames is not None and info.header_frames - info.num_frames > tolerance(info.header_frames)


def check_subset(args, subset):
    index = index_from_args(args, subset, skip_missing=True, workers=args.workers)
    tolerance = lambda header: max(2, int(0.05 * header))  # noqa: E731
    report = {
        "subset": subset,
        "videos": len(index) + len(index.missing),
        "classes": index.num_classes,
        "missing": list(index.missing),
        "unreadable": [],
        "truncated": [],
        "short": [],
        "header_mismatch": [],
    }
    for record in index.records:
        info = record.info
        if record.error:
            report["unreadable"].append({"path": record.path, "error": record.error})
            continue
        if is_truncated(info, tolerance):
            report["truncated"].append(
                {
                    "path": record.path,
                    "decoded": info.num_frames,
                    "header": info.header_frames,
                    "error": info.decode_error,
                }
            )
        elif info.header_frames is not None and info.header_frames != info.num_frames:
            report["header_mismatch"].append(
                {"path": record.path, "decoded": info.num_frames, "header": info.header_frames}
            )
        if info.num_frames < args.min_frames:
            report["short"].append({"path": record.path, "frames": info.num_frames})
    return report


PROBLEM_KINDS = ("missing", "unreadable", "truncated", "short")


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    add_data_args(parser)
    parser.add_argument("--subsets", default=None, help="comma-separated subsets (default: all of the dataset's)")
    parser.add_argument("--min_frames", type=positive_int, default=16, help="shorter videos are reported")
    parser.add_argument("--strict_header", action="store_true", help="count header/decoded mismatches as problems")
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=None,
        help="probing processes (default: all cores; 0: in this process)",
    )
    parser.add_argument("--json", default=None, help="also write the report as JSON here")
    parser.set_defaults(probe="decode")  # a check decodes every packet: damaged ones show only then
    args = parser.parse_args(argv)
    subsets = args.subsets.split(",") if args.subsets else SUBSETS[args.dataset]
    reports = [check_subset(args, subset) for subset in subsets]

    kinds = PROBLEM_KINDS + (("header_mismatch",) if args.strict_header else ())
    print(
        f"\n| subset | videos | classes | missing | unreadable | truncated | short (<{args.min_frames}) "
        "| header != decoded |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in reports:
        print(
            f"| {r['subset']} | {r['videos']} | {r['classes']} | {len(r['missing'])} | {len(r['unreadable'])} | "
            f"{len(r['truncated'])} | {len(r['short'])} | {len(r['header_mismatch'])} |"
        )
    problems = 0
    for r in reports:
        for kind in kinds:
            items = r[kind]
            problems += len(items)
            if items:
                print(f"\n{r['subset']}: {len(items)} {kind.replace('_', ' ')}:")
                for item in items[:20]:
                    print("  " + (item if isinstance(item, str) else json.dumps(item)))
                if len(items) > 20:
                    print(f"  ... and {len(items) - 20} more (all in --json)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"problems": problems, "subsets": reports}, f, indent=1)
        print(f"\nwrote {args.json}")
    print(f"\n{problems} problems found" if problems else "\nno problems found")
    return 1 if problems else 0


if __name__ == "__main__":
    run_cli(main)
