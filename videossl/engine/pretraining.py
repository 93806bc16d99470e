"""What every method's pretraining script shares: its common flags, the run's folders and recorded
configuration, and the epoch loop with logging and checkpoints. A method script stays a plain,
readable sequence (flags -> run -> dataset -> method -> optimiser -> ``pretrain``)."""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Callable, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from videossl.cli import ArgumentParser, given_flags, non_negative_int, positive_float, positive_int
from videossl.data.args import add_data_args, add_flip_arg, index_from_args
from videossl.data.dataset import VideoClipDataset, collate_samples
from videossl.data.input_contract import INPUT_MODES, STANDARDIZE, InputContract
from videossl.engine import distributed
from videossl.engine.method import Method
from videossl.engine.schedules import MultiStep, Schedule
from videossl.engine.training import RUN_CONFIG, TrainingRun, add_engine_args, check_batch, check_run_config
from videossl.errors import UserError
from videossl.eval.knn import KNN_SUBSET_FILE, KnnMonitor
from videossl.recipes import Recipe, describe, parse_with_preset

# Contrastive methods need in-batch negatives and BatchNorm statistics over more than one video.
MIN_VIDEOS_PER_PROCESS = 2
# What a --restart must never silently change, for any method (each script adds its own keys).
COMMON_KEYS_THAT_MATTER = (
    "arch",
    "width",
    "frames",
    "size",
    "channel_order",
    "input_mode",
    "standardize",
    "dataset",
    "split",
)


def pretraining_parser(description: str, script_folder: str, archs: Sequence[str]) -> argparse.ArgumentParser:
    """Flags shared by the pretraining scripts: run id and output folder, backbone, model input,
    data, engine. The flags a method's recipe holds get their defaults from it
    (``videossl.recipes.parse_with_preset``)."""
    parser = ArgumentParser(description=description)
    parser.add_argument("--run_id", default="dummy", help="names the checkpoint and log folders")
    parser.add_argument("--out_dir", default=script_folder, help="holds ss_saved_models/<run_id> and logs/<run_id>")
    parser.add_argument("--arch", choices=archs)
    parser.add_argument(
        "--width", type=positive_float, default=1.0, help="channel multiplier (0.125 for a tiny CPU model)"
    )
    parser.add_argument("--size", type=positive_int, help="crop side in pixels")
    model_input = parser.add_argument_group("model input (recorded in the checkpoint's input contract)")
    model_input.add_argument("--channel_order", default="rgb", choices=("rgb", "bgr"))
    model_input.add_argument("--input_mode", default="rgb", choices=INPUT_MODES, help="residual: frame differences")
    model_input.add_argument(
        "--standardize",
        default="none",
        choices=STANDARDIZE,
        help="per_clip: zero mean, unit variance per clip and colour channel",
    )
    add_flip_arg(parser)
    add_data_args(parser)
    add_engine_args(parser, epochs=None, batch_size=None, lr=None)
    parser.add_argument(
        "--knn_every",
        type=non_negative_int,
        help="every N epochs (and after the last), a weighted kNN (k 20, temperature 0.07) of the "
        "test videos against the training videos on the backbone's features (--labels: "
        "another label axis); 0: off",
    )
    parser.add_argument(
        "--knn_subset",
        type=non_negative_int,
        default=0,
        help="the kNN monitor on this many videos of each split, class-balanced and fixed for the run "
        "(stored as knn_subset.json beside the checkpoints); 0: every video (on Kinetics, e.g. 5000)",
    )
    return parser


def run_folders(args: argparse.Namespace) -> tuple[str, str]:
    """(checkpoint folder, TensorBoard folder) of the run the flags name."""
    return (os.path.join(args.out_dir, "ss_saved_models", args.run_id), os.path.join(args.out_dir, "logs", args.run_id))


def parse_args(
    parser: argparse.ArgumentParser, recipe: Recipe, argv: Optional[Sequence[str]] = None
) -> argparse.Namespace:
    """The flags, the recipe's preset as defaults (``videossl.recipes.parse_with_preset``). With
    --restart, the run's recorded flags (run_config.json) stand in for every flag not given again:
    ``--run_id EXP --restart`` continues the run as it was started."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_with_preset(parser, recipe, argv)
    if not args.restart:
        return args
    folder = run_folders(args)[0]
    path = os.path.join(folder, RUN_CONFIG)
    if not os.path.isdir(folder):
        raise UserError(f"--restart: there is no run {args.run_id!r} in {os.path.dirname(folder)}")
    if not os.path.isfile(path):  # a run folder from elsewhere: its flags must be given again
        return args
    with open(path) as f:
        recorded = json.load(f)
    given = given_flags(parser, argv)
    restored = {k: v for k, v in recorded.items() if hasattr(args, k) and k not in given and k != "restart"}
    for key, value in restored.items():
        setattr(args, key, tuple(value) if isinstance(value, list) else value)
    others = sorted(given - {"restart", "run_id", "out_dir"})
    print(f"--restart: the flags recorded in {path}" + (f", except --{', --'.join(others)}" if others else ""))
    return args


def add_step_decay_args(group: argparse._ArgumentGroup) -> None:
    """SGD's weight decay and the epochs where the learning rate drops x0.1 (VTDL, TCE; defaults
    from their recipes)."""
    group.add_argument("--weight_decay", type=float)
    group.add_argument("--milestones", help="comma-separated epochs where the lr is multiplied by 0.1")


def step_decay_schedule(optimizer: torch.optim.Optimizer, args: argparse.Namespace) -> MultiStep:
    return MultiStep(optimizer, [int(m) for m in args.milestones.split(",") if m.strip()], gamma=0.1)


def input_contract(
    args: argparse.Namespace, stride: int, frames: Optional[int] = None, **normalisation: Optional[list[float]]
) -> InputContract:
    """The model input the flags describe (clips of ``frames`` (default ``args.frames``) frames at
    ``stride``; ``normalisation``: mean and std, if any)."""
    return InputContract(
        frames=frames or args.frames,
        stride=stride,
        size=args.size,
        channel_order=args.channel_order,
        input_mode=args.input_mode,
        standardize=args.standardize,
        **normalisation,
    )


def start_run(args: argparse.Namespace, recipe: Recipe, keys_that_matter: Sequence[str]) -> TrainingRun:
    """The ``TrainingRun`` with its folders (``<out_dir>/ss_saved_models/<run_id>`` and
    ``<out_dir>/logs/<run_id>``) and the configuration recorded next to the checkpoints and in
    them (the resolved recipe included); a --restart with a configuration that differs where it
    matters is refused."""
    # the data flags, the layout and the batch, before the run's folders exist
    videos = len(index_from_args(args, "train", verify=False))
    check_batch(args.batch_size, int(os.environ.get("WORLD_SIZE", "1")), MIN_VIDEOS_PER_PROCESS, videos)
    checkpoint_dir, log_dir = run_folders(args)
    config = dict(vars(args), method=recipe.method)
    run = TrainingRun(args, recipe.method, checkpoint_dir, log_dir, config)
    if run.is_main:
        check_run_config(checkpoint_dir, config, keys_that_matter, args.restart)
    distributed.barrier()
    run.log(describe(recipe, args))
    return run


def training_loader(
    run: TrainingRun, args: argparse.Namespace, build_sample: Callable, min_frames: int = 0
) -> DataLoader:
    """The loader of the training split (--dataset, --split ...) with the method's sample builder;
    at least 2 videos per process (checked before any model is built). Videos the probe found
    shorter than ``min_frames`` are left out, and counted."""
    index = index_from_args(args, "train", progress=run.is_main)
    is_short = [r.num_frames is not None and r.num_frames < min_frames for r in index.records]
    short = [r for r, drop in zip(index.records, is_short) if drop]
    if short:
        index.records = [r for r, drop in zip(index.records, is_short) if not drop]
        run.log(
            f"left out {len(short)} of {len(index) + len(short)} videos shorter than {min_frames} frames "
            f"(--min_video_frames; e.g. {short[0].path}): {len(index)} remain"
        )
        if not index.records:
            raise UserError(f"every training video is shorter than {min_frames} frames: lower --min_video_frames")
    dataset = VideoClipDataset(index, build_sample, backend=args.video_backend, seed=args.seed)
    return run.loader(dataset, args.batch_size, collate_samples, min_per_process=MIN_VIDEOS_PER_PROCESS)


def monitor_knn(run: TrainingRun, monitor: Optional[KnnMonitor], backbone: nn.Module, epoch: int) -> None:
    """Run the kNN monitor after ``epoch`` when it is due (rank 0), log it, add it to the history."""
    done = epoch + 1
    if monitor is None or (done % run.args.knn_every and done != run.args.epochs):
        return
    top1, seconds = monitor(backbone)
    run.history[-1].update(knn_top1=top1, knn_seconds=seconds)
    run.scalar("knn/top1", top1, done)
    run.scalar("knn/seconds", seconds, done)
    run.log(f"epoch {done}: kNN top-1 {top1:.1f} ({seconds:.1f} s)")


def pretrain(
    run: TrainingRun,
    method: Method,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    start: int,
    details: str = "",
) -> None:
    """Say what is trained (``details``: the method's own settings), then ``run.fit``: after each
    epoch log the loss terms, run the kNN monitor when due and save the checkpoints."""
    args = run.args
    if start >= args.epochs:
        run.log(f"nothing to train: the run has done its {args.epochs} epochs; pass --epochs N to train it further")
        run.close()
        return
    run.log(
        f"{run.name.upper()}: {len(loader.dataset)} training videos, {args.arch} (width {args.width}), "
        f"{run.world} process(es) on {run.device}, batch {args.batch_size}, epochs {start + 1}-{args.epochs}"
        + (f", {details}" if details else "")
    )
    subset_file = os.path.join(run.checkpoint_dir, KNN_SUBSET_FILE)
    monitor = (
        KnnMonitor(args, method.contract, run.device, subset_file=subset_file)
        if args.knn_every and run.is_main
        else None
    )

    def after_epoch(epoch, metrics) -> None:
        shown = " ".join(f"{name} {metrics[name]:.4f}" for name in method.terms if name in metrics)
        run.log(
            f"epoch {epoch + 1}/{args.epochs}: loss {metrics.get('loss', float('nan')):.4f}"
            + (f" ({shown})" if shown else "")
            + f", lr {schedule.lr:.2e}, {metrics['seconds']:.0f} s, {metrics['clips_per_s']:.1f} clips/s"
        )
        monitor_knn(run, monitor, method.backbone, epoch)
        run.save(epoch + 1, method, optimizer, schedule, loss=metrics.get("loss"))

    run.fit(method, loader, optimizer, schedule, start, after_epoch)
    run.log(f"checkpoints: {run.checkpoint_dir}\nTensorBoard logs: {run.log_dir}")
    run.close()
