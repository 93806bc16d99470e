"""What a checkpoint is, without running a model.

    python scripts/inspect_checkpoint.py PATH [--checkpoint_format auto] [--arch NAME] [--json OUT]

PATH: a videossl checkpoint, an author's release (TCLR, VTDL, TCE files; CVRL's TensorFlow checkpoint
prefix or folder) or ``torchvision:<r3d_18|r2plus1d_18|s3d>``. Prints the format, the backbone and
its parameter count, the input contract the evaluation tools will use, the heads, and whether every
backbone key and shape matches the architecture (else the missing, unexpected and mis-shaped keys).
Exit 0 when the evaluation tools can load it, 2 when they cannot (the same line they print).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # this checkout's code, whatever else is installed
    sys.path.insert(0, ROOT)

from videossl.cli import ArgumentParser, run_cli  # noqa: E402
from videossl.errors import UserError  # noqa: E402
from videossl.models.checkpoint import read_release_file  # noqa: E402
from videossl.models.convert import SOURCES, mismatch, mismatch_text, parameter_count  # noqa: E402


def report(release):
    missing, unexpected, wrong = mismatch(release)
    return {
        "format": release.file_format,
        "method": release.source,
        "backbone": release.arch,
        "backbone_config": release.config,
        "parameters": parameter_count(release.state),
        "input_contract": release.contract.to_dict(),
        "epoch": release.epoch,
        "heads": {name: len(state) for name, state in release.heads.items()},
        "missing": missing,
        "unexpected": unexpected,
        "mis_shaped": wrong,
    }


def print_report(path, info):
    c = info["input_contract"]
    norm = "no mean/std" if c["mean"] is None else f"mean {c['mean']} std {c['std']}"
    print(f"file:      {path}")
    print(f"format:    {info['format']}")
    config = info["backbone_config"] or ""
    print(f"backbone:  {info['backbone']} {config}".rstrip() + f", {info['parameters']:,} parameters")
    print(
        f"input:     {c['frames']} frames at stride {c['stride']}, {c['size']} px, {c['channel_order'].upper()} "
        f"in [{c['value_range'].replace('-', ', ')}], {norm}"
        + ("" if c["input_mode"] == "rgb" else f", {c['input_mode']} input")
        + ("" if c["standardize"] == "none" else f", standardised {c['standardize']}")
    )
    heads = ", ".join(f"{name} ({count} tensors)" for name, count in info["heads"].items()) or "none"
    print(f"heads:     {heads}")
    print(f"epoch:     {info['epoch']}")


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("--checkpoint_format", default="auto", choices=("auto", "videossl") + SOURCES)
    parser.add_argument("--arch", default=None, help="checked against the backbone the file holds")
    parser.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="allow a file that needs full unpickling (it can run code: only for trusted files)",
    )
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    release, _ = read_release_file(
        args.path, trust=args.trust_checkpoint, source=args.checkpoint_format, arch=args.arch
    )
    info = report(release)
    print_report(args.path, info)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(info, f, indent=2)
    problems = mismatch_text(info["missing"], info["unexpected"], info["mis_shaped"])
    if problems:
        raise UserError(f"{args.path}: {release.file_format}: the {release.arch} backbone does not match: {problems}")
    print(f"keys:      all {len(release.state)} backbone tensors match {release.arch}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
