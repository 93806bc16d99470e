"""Flags and checkpoint loading shared by the evaluation tools (linear_eval, nn_retrieval, tsne)."""

import os
import sys
from argparse import Namespace, _ArgumentGroup
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import nn

from videossl.atomic import atomic_write_json
from videossl.cli import ArgumentParser, non_negative_int, positive_float, positive_int, probability
from videossl.data.args import check_data_args, index_from_args, require_single_label
from videossl.data.indexes import check_same_classes
from videossl.data.input_contract import IMAGENET, InputContract
from videossl.engine.training import add_compile_arg, compile_backbone, resolve_device
from videossl.eval.features import CLIP_STARTS, ClipView, extract_features, file_fingerprint
from videossl.models.backbones import BACKBONES, RESNETS_2D, build_backbone
from videossl.models.checkpoint import load_backbone
from videossl.models.checkpoint_files import checkpoint_path
from videossl.models.convert import TORCHVISION_PREFIX


def evaluation_parser(description: Optional[str]) -> ArgumentParser:
    """The flags every evaluation tool shares: --run_id, checkpoint, features and data."""

    from videossl.data.args import add_data_args

    parser = ArgumentParser(description=description)
    parser.add_argument("--run_id", default="dummy", help="names the output folder")
    add_checkpoint_args(parser)
    add_feature_args(parser)
    add_data_args(parser)
    return parser


def add_checkpoint_args(parser: ArgumentParser, seed: bool = True) -> _ArgumentGroup:
    group = parser.add_argument_group("checkpoint")
    group.add_argument(
        "--saved_model",
        "--ckpt",
        dest="saved_model",
        required=True,
        help="a checkpoint of any method, an author's release (a TCLR, VTDL or TCE file, CVRL's "
        "TensorFlow checkpoint), torchvision:<r3d_18|r2plus1d_18|s3d>, or 'random' for a "
        "random-init backbone",
    )
    group.add_argument(
        "--checkpoint_format",
        default="auto",
        choices=("auto", "videossl", "tclr", "vtdl", "tce", "cvrl"),
        help="what --saved_model is; auto tells them apart (scripts/inspect_checkpoint.py shows what it finds)",
    )
    group.add_argument(
        "--arch",
        "--model",
        dest="arch",
        default=None,
        help="the backbone of --saved_model random; for a checkpoint, checked against what it holds",
    )
    group.add_argument("--width", type=positive_float, default=1.0, help="with --saved_model random")
    group.add_argument(
        "--random_init",
        action="store_true",
        help="the checkpoint's architecture and input contract with random weights (a baseline)",
    )
    group.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="allow a checkpoint that needs full unpickling (it can run code: only for trusted files)",
    )
    if seed:  # training tools take --seed from the engine's flags
        group.add_argument("--seed", type=int, default=0)
    return group


def add_feature_args(parser: ArgumentParser, num_clips: int = 10) -> _ArgumentGroup:
    group = parser.add_argument_group("features")
    group.add_argument("--num_clips", type=positive_int, default=num_clips, help="evenly spaced clips per video")
    group.add_argument("--test_crops", type=int, default=1, choices=(1, 3))
    group.add_argument(
        "--crop_fraction",
        type=probability,
        default=1.0,
        help="below 1: the centre square of this fraction of the short side, resized (TCLR: 0.8)",
    )
    group.add_argument(
        "--clip_starts",
        default="even",
        choices=CLIP_STARTS,
        help="where the clips start: evenly spaced, or as TCLR's evaluation places them",
    )
    group.add_argument("--batch_size", type=positive_int, default=8, help="videos per batch")
    group.add_argument("--device", default="auto")
    group.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16", "fp16"),
        help="of the forward passes (no gradients are involved)",
    )
    group.add_argument("--num_workers", type=non_negative_int, default=2, help="data-loader processes")
    add_compile_arg(group)
    group.add_argument("--feature_cache", default=None, help="feature cache folder (default: $VIDEOSSL_CACHE/features)")
    group.add_argument("--out_dir", default=None, help="where results.json and pictures go")
    return group


def default_contract(arch: str) -> InputContract:
    """The input of a random-init baseline: 16-frame clips at stride 2 and 112 px for 3D backbones,
    single 224 px ImageNet-normalised frames for the 2D ResNets (TCE's input)."""
    if arch in RESNETS_2D:
        return InputContract(frames=1, stride=1, size=224, **IMAGENET)
    return InputContract(frames=16, stride=2, size=112)


def load_model_for_eval(args: Namespace, compile_it: bool = True) -> tuple[nn.Module, InputContract, str, dict]:
    """(backbone in eval mode, InputContract, checkpoint id for the cache, description dict); with
    --compile and ``compile_it``, the backbone compiled (finetuning leaves that to the engine)."""
    backbone, contract, checkpoint_id, description = load_backbone_for_eval(args)
    if compile_it and getattr(args, "compile", False):
        compile_backbone(backbone)
    return backbone, contract, checkpoint_id, description


def load_backbone_for_eval(args: Namespace) -> tuple[nn.Module, InputContract, str, dict]:
    if args.saved_model == "random":
        if args.arch not in BACKBONES:
            from videossl.errors import UserError

            raise UserError(f"--saved_model random needs --arch, one of: {', '.join(sorted(BACKBONES))}")
        torch.manual_seed(args.seed)
        backbone = build_backbone(args.arch, width=args.width)
        contract = default_contract(args.arch)
        return (
            backbone.eval(),
            contract,
            f"random|{args.arch}|{args.width}|{args.seed}",
            {"saved_model": "random", "method": "none", "backbone": args.arch},
        )
    if not args.saved_model.startswith(TORCHVISION_PREFIX):  # a folder becomes the checkpoint in it, once
        args.saved_model = checkpoint_path(args.saved_model)
    backbone, contract, checkpoint = load_backbone(
        args.saved_model, trust=args.trust_checkpoint, source=args.checkpoint_format, arch=args.arch
    )
    if args.arch and args.arch != checkpoint["backbone"]["name"]:
        from videossl.errors import UserError

        raise UserError(
            f"{args.saved_model}: holds a {checkpoint['backbone']['name']} backbone, not --arch {args.arch}"
        )
    description = {
        "saved_model": os.path.abspath(args.saved_model),
        "method": checkpoint["method"],
        "backbone": checkpoint["backbone"]["name"],
        "backbone_config": checkpoint["backbone"]["config"],
        "epoch": checkpoint.get("epoch"),
    }
    checkpoint_id = file_fingerprint(args.saved_model)
    if args.random_init:
        torch.manual_seed(args.seed)
        backbone = build_backbone(checkpoint["backbone"]["name"], **checkpoint["backbone"]["config"])
        checkpoint_id = f"random-init|{checkpoint_id}|{args.seed}"
        description["random_init"] = True
    return backbone.eval(), contract, checkpoint_id, description


def features_record(features: dict[str, dict]) -> dict:
    """What results.json says about the features: seconds to get them, and the videos left out."""
    return {
        "feature_seconds": {s: f["seconds"] for s, f in features.items()},
        "unreadable": {s: list(f["unreadable"]) for s, f in features.items()},
    }


def report_feature_times(features: dict[str, dict]) -> None:
    for subset, f in features.items():
        print(f"{subset} features: {f['seconds']:.1f} s ({'cache' if f['cached'] else 'extracted'})")


def write_results(out_dir: str, results: dict) -> str:
    os.makedirs(out_dir, exist_ok=True)
    results = dict(results, command=" ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]))
    return atomic_write_json(os.path.join(out_dir, "results.json"), results, indent=2, default=str)


def print_table(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    """rows: list of (name, value) -> a two-column markdown table."""
    width = max(len(str(name)) for name, _ in rows)
    print(f"\n{title}\n")
    print(f"| {'metric':{width}s} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"| {name:{width}s} | {shown} |")


def subset_features(
    args: Namespace, backbone: nn.Module, contract: InputContract, checkpoint_id: str, subset: str, crops: int = 1
) -> dict:
    """Features of one subset of the dataset the data flags describe, of the clips the feature
    flags describe (--num_clips, --crop_fraction, --clip_starts) with ``crops`` crops; the
    training videos of a retrieval gallery take --gallery_clip_starts where it is set (CoCLR's:
    one random clip per video)."""
    starts, clips = args.clip_starts, args.num_clips
    if subset == "train" and getattr(args, "gallery_clip_starts", None):
        starts = args.gallery_clip_starts
        clips = 1 if starts in ("random", "middle") else clips
    return extract_features(
        backbone,
        contract,
        require_single_label(index_from_args(args, subset), "a feature evaluation"),
        checkpoint_id,
        ClipView(clips, crops, args.crop_fraction, starts, seed=args.seed),
        args.batch_size,
        resolve_device(args.device),
        args.precision,
        args.num_workers,
        args.feature_cache,
        args.video_backend,
    )


def train_and_test_features(
    args: Namespace, backbone: nn.Module, contract: InputContract, checkpoint_id: str, test_crops: Optional[int] = None
) -> dict[str, dict]:
    """Features of the training and test videos the data flags describe ({"train": ..., "test": ...});
    training videos use the centre crop, test videos ``test_crops`` (default ``--test_crops``)."""
    test_crops = args.test_crops if test_crops is None else test_crops
    check_data_args(args, evaluation=True)
    features = {
        subset: subset_features(args, backbone, contract, checkpoint_id, subset, crops)
        for subset, crops in (("train", 1), ("test", test_crops))
    }
    check_same_classes(features["train"]["class_names"], features["test"]["class_names"])
    return features


def evaluate_setup(args: Namespace, tool_file: str) -> tuple[str, InputContract, dict, dict[str, dict]]:
    """What every evaluation tool starts with: (output folder, contract, description, features).
    The output folder defaults to ``<the tool's folder>/results/<run_id>``."""
    out_dir = args.out_dir or os.path.join(os.path.dirname(os.path.abspath(tool_file)), "results", args.run_id)
    backbone, contract, checkpoint_id, description = load_model_for_eval(args)
    features = train_and_test_features(args, backbone, contract, checkpoint_id)
    description.update(
        labels=os.path.abspath(args.labels) if args.labels else "the split's",
        classes=len(features["train"]["class_names"]),
    )
    return out_dir, contract, description, features
