"""Generate the synthetic motion dataset in the UCF101 layout (real video files, official list format).

    python scripts/make_synthetic.py --out data/synthetic [--classes 10 | --motions benchmark|A,B,...]
        [--videos_per_class 40 --frames 32 --size 64x64 --seed 0 --format avi|mp4 --test_fraction 0.3]

Classes are defined by motion only; the appearance (the moving object's shape) is drawn
independently and written as a second label list, ucfTrainTestlist/appearance_labels.txt (see
videossl/data/synthetic.py). A complete dataset with the same settings is left as it is.
Afterwards: --data_root OUT/UCF-101 --split_dir OUT/ucfTrainTestlist --split 1 [--labels
OUT/ucfTrainTestlist/appearance_labels.txt].
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # this checkout's code, whatever else is installed
    sys.path.insert(0, ROOT)

from videossl.cli import ArgumentParser, positive_int, probability, run_cli  # noqa: E402
from videossl.data.synthetic import BENCHMARK_MOTIONS, CLASS_NAMES, SyntheticConfig, generate_dataset  # noqa: E402
from videossl.errors import UserError  # noqa: E402


def parse_size(text):
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must look like 64x64, got {text!r}") from None
    if width < 16 or height < 16:
        raise UserError("--size must be at least 16x16")
    return width, height


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/synthetic")
    parser.add_argument(
        "--classes", type=positive_int, default=10, help=f"1-{len(CLASS_NAMES)}: the first N motion classes"
    )
    parser.add_argument(
        "--motions",
        default="",
        help="comma-separated motion classes instead (benchmark: the "
        "benchmark's 14, as scripts/run_matrix.py's demo scale)",
    )
    parser.add_argument("--videos_per_class", type=positive_int, default=40)
    parser.add_argument("--frames", type=positive_int, default=32)
    parser.add_argument("--size", default="64x64", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default="avi", choices=("avi", "mp4"))
    parser.add_argument("--test_fraction", type=probability, default=0.3, help="share of groups held out for testing")
    args = parser.parse_args(argv)
    if not 1 <= args.classes <= len(CLASS_NAMES):
        raise UserError(f"--classes must be between 1 and {len(CLASS_NAMES)}")
    if args.videos_per_class < 2 or args.frames < 2:
        raise UserError("--videos_per_class and --frames must be at least 2")
    width, height = parse_size(args.size)
    motions = ",".join(BENCHMARK_MOTIONS) if args.motions == "benchmark" else args.motions
    unknown = [m for m in motions.split(",") if m and m not in CLASS_NAMES]
    if unknown:
        raise UserError(f"--motions: unknown classes {', '.join(unknown)}; known: {', '.join(CLASS_NAMES)}")
    classes = len(motions.split(",")) if motions else args.classes
    config = SyntheticConfig(
        classes=classes,
        motions=motions,
        videos_per_class=args.videos_per_class,
        frames=args.frames,
        width=width,
        height=height,
        seed=args.seed,
        format=args.format,
        test_fraction=args.test_fraction,
    )
    video_root, split_dir = generate_dataset(args.out, config)
    print(f"videos: {os.path.abspath(video_root)}\nsplits: {os.path.abspath(split_dir)}")
    return 0


if __name__ == "__main__":
    run_cli(main)
