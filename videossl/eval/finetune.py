"""The finetune / paper-protocol linear evaluation driver behind ``finetune/train.py`` and
``linear_eval/train.py`` (``--protocol paper``, or without ``--linear``).

Recipes are presets of the flags; any flag given on the command line wins. A recipe's
``source`` names the authors' file its values come from, or says that they are this project's
choices (in the style of SEVERE-benchmark finetuning).
"""

import argparse
import math
import os
from argparse import Namespace
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Optional, TypeVar

import torch
from torch import nn
from torch.utils.data import DataLoader

from videossl.atomic import atomic_open
from videossl.cli import (
    ArgumentParser,
    epoch_list,
    epoch_ranges,
    non_negative_float,
    positive_float,
    positive_int,
    probability,
)
from videossl.data.args import add_data_args, add_flip_arg, check_data_args, index_from_args
from videossl.data.dataset import VideoClipDataset, collate_samples
from videossl.data.downstream import severe_subset
from videossl.data.indexes import DatasetIndex, check_same_classes
from videossl.data.input_contract import InputContract
from videossl.engine import distributed
from videossl.engine.precision import autocast
from videossl.engine.schedules import MultiStep, Schedule, WarmupCosine, WarmupMultiStep, WarmupPlateau
from videossl.engine.training import TrainingRun, add_engine_args, check_run_config, load_method_weights
from videossl.errors import UserError
from videossl.eval.classifier import (
    AGGREGATIONS,
    TrainClipBuilder,
    VideoClassifier,
    evaluate_classifier,
    finetune_augmentation,
    temporal_steps,
)
from videossl.eval.common import add_checkpoint_args, load_model_for_eval, print_table, write_results
from videossl.eval.features import ClipView
from videossl.models.backbones import RESNETS_2D, build_backbone, tile_first_conv
from videossl.models.checkpoint import load_checkpoint, read_checkpoint_file


@dataclass
class Recipe:
    optimizer: str = "sgd"
    lr: dict = field(default_factory=lambda: {"default": 1e-3})  # per dataset
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 100
    batch_size: int = 24
    dropout: float = 0.5
    schedule: str = "cosine"  # cosine (per step, after warmup_epochs), multistep, or plateau
    warmup_epochs: int = 0  # linear warm-up per step (cosine)
    milestones: tuple = ()
    gamma: float = 0.1
    patience: int = 0  # plateau: lr x gamma after this many epochs without a new best training loss
    plateau_in_a_row: bool = True  # plateau: count those epochs in a row, or all since the last drop
    min_lr: float = 0.0  # > 0: the run ends after an epoch trained at a learning rate below this
    test_epochs: tuple = ()  # the epochs (from 1) to test after; empty: every eval_every epochs
    eval_every: int = 5
    report_best: bool = False  # the result is the best test of the run (chosen on the test split), not the last
    # > 0: each scheduled test is a cheap selection test of this many random clips per test video
    # (clip top-1, SEVERE's per-epoch test); the result is the dense test of the epoch it chose
    select_clips: int = 0
    reference_batch: int = 0  # > 0: lr is given for this batch and scales linearly with --batch_size
    frames: int = None  # None: the checkpoint's input contract
    stride: int = None
    sample_fps: float = None  # read videos as if recorded at this rate (SEVERE: 16 fps); None: as they are
    size: int = None  # training crop; None: the checkpoint's
    train_crop: str = "square"  # classifier.TRAIN_CROPS (finetune_augmentation)
    test_size: int = None  # None: the training size
    num_clips: int = 10
    test_crops: int = 1
    crop_fraction: float = 1.0  # test: below 1, the centre square of this fraction of the short side
    clip_starts: str = "even"  # test clip positions: even, or tclr (TCLR's release)
    aggregate: str = "softmax_mean"
    stack_of_differences: int = 0  # TCE: 2D backbones take F-frame stacks of differences
    update_bn_stats: bool = False
    normalize_features: bool = False
    head: str = "linear"  # classifier.HEADS
    nesterov: bool = False  # SGD
    bn_weight_decay: bool = True  # False: no weight decay on normalisation layers' parameters
    warmup_start_lr: float = 0.0  # multistep: a linear warm-up from this lr over warmup_epochs, every step
    train_clips_per_video: int = 1  # random clips of each training video per epoch
    per_dataset: dict = field(default_factory=dict)  # dataset -> the fields that differ for it
    source: str = ""

    def lr_for(self, dataset: str) -> float:
        return self.lr.get(dataset, self.lr["default"])

    def for_dataset(self, dataset: str) -> "Recipe":
        """The recipe with the values it sets for ``dataset``."""
        return replace(self, **self.per_dataset.get(dataset, {}))


RECIPES = {
    "tclr": Recipe(
        optimizer="adam",
        lr={"default": 1e-4},
        weight_decay=1e-5,
        epochs=100,
        batch_size=24,
        dropout=0.5,
        schedule="cosine",
        source="this project's choice (TCLR/SEVERE-style: 16x112 clips, Adam, dropout 0.5, 10-clip test)",
    ),
    # the VTDL release: readme.md and src/scripts/*/i3d_ft*.sh (lr, steps, epochs, batch, frames, dropout),
    # src/option.py (momentum, weight decay), src/utils/learning_rate_adjust.py (x0.3), src/data/config.py
    # (transforms), src/model/i3d.py (head), src/data/dataset.py (_get_test_indices: one test clip)
    "vtdl": Recipe(
        optimizer="sgd",
        lr={"default": 5e-4, "ucf101": 5e-4, "hmdb51": 1e-3},
        weight_decay=1e-8,
        epochs=45,
        batch_size=4,
        dropout=0.5,
        schedule="multistep",
        milestones=(10, 20, 25, 30, 35, 40),
        gamma=0.3,
        frames=64,
        stride=1,
        train_crop="vtdl",
        head="temporal_conv",
        num_clips=1,
        clip_starts="middle",
        crop_fraction=224 / 256,
        source="VTDL's release: 64 frames at stride 1, its pretraining transform, I3D's temporal-conv head, "
        "SGD lr 5e-4 (UCF101) / 1e-3 (HMDB51), momentum 0.9, weight decay 1e-8, x0.3 at "
        "10/20/25/30/35/40, 45 epochs, batch 4, dropout 0.5; test: one clip, centre crop 224 of 256 "
        "(the release places the clip at random; here in the middle, so a test is repeatable)",
    ),
    "tce": Recipe(
        optimizer="sgd",
        lr={"default": 1e-3},
        weight_decay=1e-4,
        epochs=50,
        batch_size=32,
        dropout=0.5,
        schedule="multistep",
        milestones=(25,),
        gamma=0.1,
        frames=6,
        stride=1,
        num_clips=19,
        aggregate="logit_sum",
        stack_of_differences=6,
        source="published TCE input: 6-frame stacks of differences, 19 stacks per test video, logits summed "
        "(optimiser: this project's choice)",
    ),
    "linear": Recipe(
        optimizer="adam",
        lr={"default": 1e-3},
        weight_decay=0.0,
        epochs=100,
        batch_size=32,
        dropout=0.0,
        schedule="cosine",
        source="this project's linear protocol: frozen backbone and BN, Adam 1e-3, cosine, 100 epochs",
    ),
    # DAVEISHAN/TCLR linear_eval/train.py, parameters_BL.py, dl_linear.py; the model selection is the
    # release's (docs/recipes.md): what its published number means
    "linear_tclr": Recipe(
        optimizer="adam",
        lr={"default": 1e-2},
        weight_decay=0.0,
        epochs=100,
        batch_size=32,
        dropout=0.0,
        schedule="plateau",
        patience=3,
        plateau_in_a_row=False,
        min_lr=1e-5,
        test_epochs=(7, *range(12, 51)),
        report_best=True,
        update_bn_stats=True,
        train_crop="tclr_linear",
        num_clips=10,
        crop_fraction=0.8,
        clip_starts="tclr",
        source="TCLR's release (linear_eval/): Adam 1e-2, batch 32, at most 100 epochs, lr / 10 after 3 "
        "epochs without a new best training loss since the last drop, the run ends after an epoch at an lr "
        "below 1e-5; BatchNorm statistics updated, its mild training augmentation; tested after epochs 7 "
        "and 12-50 with 10 clips at the release's positions, centre 0.8 x short side; the result is the "
        "best of those tests (chosen on the test split, as the published number), the last epoch's beside it",
    ),
    # tensorflow/models official/projects/video_ssl configs/experiments/cvrl_linear_eval_k600.yaml,
    # configs/video_ssl.py (video_ssl_linear_eval_*), modeling/video_ssl_model.py
    "linear_cvrl": Recipe(
        optimizer="sgd",
        lr={"default": 32.0},
        weight_decay=0.0,
        epochs=100,
        batch_size=1024,
        dropout=0.0,
        schedule="cosine",
        warmup_epochs=5,
        reference_batch=1024,
        frames=32,
        stride=2,
        size=224,
        train_crop="resized",
        test_size=256,
        num_clips=10,
        test_crops=3,
        normalize_features=True,
        source="CVRL's release (cvrl_linear_eval_k600.yaml, video_ssl.py): 32 frames at stride 2, "
        "random resized crop (area 0.3-1, aspect 0.5-2) at 224, L2-normalised feature, SGD "
        "lr 32 x batch / 1024, 5 warm-up epochs then cosine, 100 epochs, no weight decay; "
        "test: 10 clips x 3 crops at 256",
    ),
}
# SEVERE's finetuning (fmthoker/SEVERE-BENCHMARK; values and sources: videossl/eval/severe.py, docs/recipes.md)
SEVERE_CHARADES = dict(
    optimizer="sgd",
    lr={"default": 0.0375},
    momentum=0.9,
    nesterov=True,
    weight_decay=1e-4,
    bn_weight_decay=False,
    epochs=57,
    batch_size=16,
    dropout=0.5,
    milestones=(41, 49),
    gamma=0.1,
    warmup_epochs=4,
    warmup_start_lr=1e-4,
    train_clips_per_video=1,
    frames=32,
    stride=8,
    sample_fps=24.0,
    train_crop="short_side_jitter",
    test_size=None,
    num_clips=10,
    test_crops=3,
    clip_starts="even",
    crop_fraction=1.0,
    aggregate="sigmoid_max",
    test_epochs=(57,),
    select_clips=0,
)
RECIPES["severe"] = Recipe(
    optimizer="adam",
    lr={"default": 1e-4},
    weight_decay=0.0,
    epochs=16,
    batch_size=32,
    dropout=0.0,
    schedule="multistep",
    milestones=(6, 10, 14),
    gamma=0.3,
    train_clips_per_video=10,
    frames=32,
    stride=1,
    sample_fps=16.0,
    size=112,
    train_crop="severe",
    num_clips=10,
    clip_starts="severe",
    crop_fraction=0.875,
    eval_every=1,
    select_clips=5,
    per_dataset={
        "ssv2": dict(epochs=22, milestones=(12, 17, 20), train_clips_per_video=2, select_clips=1),
        "gym99": dict(select_clips=3),
        "diving48": dict(select_clips=3),
        "fx_s1": dict(epochs=18, milestones=(7, 12, 16)),
        "ub_s1": dict(epochs=18, milestones=(7, 12, 16), select_clips=3),
        "ntu60": dict(epochs=18, milestones=(9, 14, 16), frames=16, batch_size=64, select_clips=1),
        "charades": SEVERE_CHARADES,
    },
    source="SEVERE's finetuning (fmthoker/SEVERE-BENCHMARK): R(2+1)D-18 input of 32 frames at 112, random "
    "resized crop (area 0.08-1), flip and colour jitter, Adam 1e-4, x0.3 at its milestones, 10 random clips "
    "per video per epoch; the 10-clip test of the epoch with the best per-epoch random-clip test; Charades: "
    "32 frames at stride 8, SGD 0.0375, binary cross-entropy, 10 x 3 views max-ensembled, mAP",
)
FINETUNE_RECIPES = ("tclr", "vtdl", "tce", "severe")
T = TypeVar("T")
# a test of the model being trained: (metrics, unreadable test videos); the context runs it in the run's precision
Tester = Callable[..., tuple[dict, list[str]]]
LINEAR_RECIPES = ("linear", "linear_tclr", "linear_cvrl")
# A --restart must not silently change what is being trained.
KEYS_THAT_MATTER = (
    "saved_model",
    "linear",
    "recipe",
    "dataset",
    "split",
    "frames",
    "stride",
    "dropout",
    "optimizer",
    "train_videos",
    "sample_fps",
)


def build_parser(description: Optional[str], linear_default: bool = False) -> argparse.ArgumentParser:
    parser = ArgumentParser(description=description)
    parser.add_argument("--run_id", default="dummy", help="names the output folder")
    parser.add_argument(
        "--out_dir", default=None, help="checkpoints, logs and results.json (default: <tool folder>/results/<run_id>)"
    )
    parser.add_argument(
        "--linear",
        action="store_true",
        default=linear_default,
        help="freeze the backbone (a linear probe on augmented clips)",
    )
    parser.add_argument(
        "--recipe",
        default=None,
        choices=sorted(RECIPES),
        help="presets (default: tclr for finetuning, linear with --linear)",
    )
    parser.add_argument(
        "--test_only",
        action="store_true",
        help="evaluate the checkpoint's own classifier on the test split, no training",
    )
    add_checkpoint_args(parser, seed=False)
    group = parser.add_argument_group("recipe overrides (default: the recipe's value)")
    group.add_argument("--optimizer", default=None, choices=("sgd", "adam"))
    group.add_argument("--weight_decay", type=non_negative_float, default=None)
    group.add_argument("--dropout", type=probability, default=None)
    group.add_argument("--frames", type=positive_int, default=None, help="frames per clip (default: the checkpoint's)")
    group.add_argument("--stride", type=positive_int, default=None)
    group.add_argument(
        "--sample_fps",
        type=positive_float,
        default=None,
        help="read every video as if recorded at this rate, frame k the one on screen at k / rate "
        "(SEVERE's 16 fps; default: the recipe's, else each video's own frames)",
    )
    group.add_argument("--size", type=positive_int, default=None, help="crop size (default: the checkpoint's)")
    group.add_argument(
        "--test_size", type=positive_int, default=None, help="test crop size (default: the recipe's, else --size)"
    )
    add_flip_arg(group)
    group.add_argument("--num_clips", type=positive_int, default=None, help="evenly spaced test clips per video")
    group.add_argument("--test_crops", type=int, default=None, choices=(1, 3))
    group.add_argument("--aggregate", default=None, choices=AGGREGATIONS)
    group.add_argument(
        "--update_bn_stats",
        action="store_true",
        default=None,
        help="with --linear: let BatchNorm statistics follow the new data (TCLR's behaviour)",
    )
    group.add_argument(
        "--normalize_features",
        action="store_true",
        default=None,
        help="L2-normalise the pooled feature before the linear layer (CVRL's linear protocol)",
    )
    tests = group.add_mutually_exclusive_group()
    tests.add_argument(
        "--eval_every",
        type=positive_int,
        default=None,
        help="epochs between tests, and one at the end (default: the recipe's, 5 for most)",
    )
    tests.add_argument(
        "--test_epochs",
        type=epoch_list,
        default=None,
        help="test after these epochs (e.g. 7,12-50) and at the end (default: the recipe's, else every --eval_every)",
    )
    group.add_argument("--test_batch_size", type=positive_int, default=4, help="test videos per batch")
    data = add_data_args(parser)
    data.add_argument(
        "--train_videos",
        type=positive_int,
        default=None,
        help="train on a class-balanced subset of about N videos, drawn as SEVERE draws its sample-size subsets "
        "(ceil(N / classes) per class, seed 99999); the list is written to <out_dir>/train_videos.txt",
    )
    # one BatchNorm batch per step: --grad_cache could not be exact, so it is not offered
    add_engine_args(parser, epochs=None, batch_size=None, lr=None, grad_cache=False)
    return parser


# The recipe values a flag can override (the learning rate too, scaled by the batch where the recipe says so).
RECIPE_FLAGS = (
    "optimizer",
    "weight_decay",
    "dropout",
    "epochs",
    "batch_size",
    "frames",
    "stride",
    "sample_fps",
    "size",
    "test_size",
    "num_clips",
    "test_crops",
    "aggregate",
    "update_bn_stats",
    "normalize_features",
)


def overridden(args: Namespace, recipe: Recipe) -> str:
    """``, overridden: --frames 16, ...`` for the recipe values the flags changed (recipe values
    that follow the checkpoint, None in the recipe, are not overrides)."""
    changed = [
        f"--{key} {getattr(args, key)}"
        for key in RECIPE_FLAGS
        if getattr(recipe, key) is not None and getattr(args, key) != getattr(recipe, key)
    ]
    return f", overridden: {', '.join(changed)}" if changed else ""


def resolve_recipe(args: Namespace) -> Recipe:
    """Fill every unset flag from the recipe; returns the recipe used."""
    name = args.recipe or ("linear" if args.linear else "tclr")
    if args.linear and name not in LINEAR_RECIPES:
        raise UserError(f"--recipe {name} is a finetuning recipe; with --linear use {' or '.join(LINEAR_RECIPES)}")
    if not args.linear and name in LINEAR_RECIPES:
        finetuning = sorted(set(RECIPES) - set(LINEAR_RECIPES))
        raise UserError(
            f"--recipe {name} is a linear-probe recipe: add --linear to train only the linear layer, "
            f"or finetune the whole network with --recipe {' or '.join(finetuning)}"
        )
    recipe = RECIPES[name].for_dataset(args.dataset)
    args.recipe = name
    for key in RECIPE_FLAGS:
        if getattr(args, key) is None:
            setattr(args, key, getattr(recipe, key))
    if args.test_epochs is None:
        args.test_epochs = () if args.eval_every else recipe.test_epochs
    args.eval_every = args.eval_every or recipe.eval_every
    if args.lr is None:
        args.lr = recipe.lr_for(args.dataset)
    if recipe.reference_batch:  # the lr is given for the recipe's batch (given or default)
        args.lr = args.lr * args.batch_size / recipe.reference_batch
    return recipe


def adapt_contract(contract: InputContract, args: Namespace) -> InputContract:
    changes = {k: getattr(args, k) for k in ("frames", "stride", "size") if getattr(args, k) is not None}
    return InputContract.from_dict({**contract.to_dict(), **changes}) if changes else contract


def to_stack_of_differences(backbone: nn.Module, frames: int) -> nn.Module:
    """A 2D ResNet's RGB weights, its first convolution tiled for ``frames``-frame stacks of differences."""
    if backbone.name not in RESNETS_2D:
        raise UserError(f"stacks of differences need a 2D ResNet backbone, not {backbone.name}")
    already = backbone.config.get("stack_of_differences", 0)
    if already:  # a checkpoint finetuned on stacks already (e.g. re-tested with --recipe tce)
        if already != frames:
            raise UserError(f"the checkpoint takes stacks of {already} frames, not {frames} (--frames)")
        return backbone
    state = backbone.state_dict()
    state["conv1.weight"] = tile_first_conv(state["conv1.weight"], frames)
    adapted = build_backbone(backbone.name, **{**backbone.config, "stack_of_differences": frames})
    adapted.load_state_dict(state)
    return adapted


def checkpoint_classifier(args: Namespace) -> Optional[dict]:
    """The classifier head stored in --saved_model (a finetuned checkpoint), or None."""
    if args.saved_model == "random":
        return None
    heads = (
        load_checkpoint(
            args.saved_model, trust=args.trust_checkpoint, source=args.checkpoint_format, arch=args.arch
        ).get("heads")
        or {}
    )
    return heads.get("classifier")


def build_model(args: Namespace, recipe: Recipe, num_classes: int) -> tuple[VideoClassifier, InputContract, dict]:
    backbone, contract, _, description = load_model_for_eval(args, compile_it=False)  # the engine compiles
    if recipe.stack_of_differences:
        backbone = to_stack_of_differences(backbone, args.frames)
    contract = adapt_contract(contract, args)
    steps = temporal_steps(backbone, contract) if recipe.head == "temporal_conv" else 1
    model = VideoClassifier(
        backbone,
        num_classes,
        dropout=args.dropout,
        freeze_backbone=args.linear,
        update_bn_stats=bool(args.update_bn_stats),
        normalize_features=bool(args.normalize_features),
        head=recipe.head,
        steps=steps,
        contract=contract,
    )
    head = checkpoint_classifier(args)
    if head is not None and not args.random_init:
        own = model.fc.state_dict()
        if set(head) != set(own) or any(v.shape[1:] != own[k].shape[1:] for k, v in head.items()):
            raise UserError(
                f"{args.saved_model}: its classifier is not the {args.recipe} recipe's "
                f"({recipe.head} head over {steps} time steps); use the recipe it was trained with"
            )
        stored = next(v.shape[0] for k, v in head.items() if k.endswith("weight"))
        if stored != num_classes:
            if args.test_only:
                raise UserError(
                    f"{args.saved_model}: its classifier has {stored} classes, the {args.dataset} split "
                    f"has {num_classes}; finetune it (without --test_only) to train a new classifier"
                )
            print(
                f"note: the checkpoint's classifier has {stored} classes, {args.dataset} has {num_classes}: "
                f"a new classifier is trained"
            )
        else:
            model.fc.load_state_dict(head)
    elif args.test_only:
        raise UserError(f"--test_only needs a checkpoint with a trained classifier; {args.saved_model} has none")
    return model, contract, description


def parameter_groups(model: nn.Module, weight_decay: float, bn_weight_decay: bool) -> list[dict]:
    """The trained parameters; without ``bn_weight_decay`` those of normalisation layers in a group
    of their own without weight decay (SlowFast's optimizer.py, BN.WEIGHT_DECAY 0)."""
    norm, other = [], []
    for module in model.modules():
        is_norm = isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm))
        for p in module.parameters(recurse=False):
            if p.requires_grad:
                (norm if is_norm and not bn_weight_decay else other).append(p)
    groups = [{"params": other, "weight_decay": weight_decay}, {"params": norm, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(args: Namespace, model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    parameters = parameter_groups(model, args.weight_decay, recipe.bn_weight_decay)
    if args.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=args.lr, weight_decay=args.weight_decay)
    return torch.optim.SGD(
        parameters, lr=args.lr, momentum=recipe.momentum, weight_decay=args.weight_decay, nesterov=recipe.nesterov
    )


def build_schedule(recipe: Recipe, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int) -> Schedule:
    if recipe.schedule == "multistep" and recipe.warmup_epochs:
        start = recipe.warmup_start_lr / optimizer.param_groups[0]["lr"]
        return WarmupMultiStep(optimizer, recipe.milestones, recipe.gamma, recipe.warmup_epochs, start, steps_per_epoch)
    if recipe.schedule == "multistep":
        return MultiStep(optimizer, recipe.milestones, recipe.gamma)
    if recipe.schedule == "plateau":
        return WarmupPlateau(
            optimizer, warmup=(), patience=recipe.patience, factor=recipe.gamma, in_a_row=recipe.plateau_in_a_row
        )
    return WarmupCosine(optimizer, recipe.warmup_epochs, epochs, steps_per_epoch)


def run_classification(args: Namespace, tool_file: str) -> int:
    recipe = resolve_recipe(args)
    out_dir = args.out_dir or os.path.join(os.path.dirname(os.path.abspath(tool_file)), "results", args.run_id)
    checkpoint_dir, log_dir = os.path.join(out_dir, "checkpoints"), os.path.join(out_dir, "logs")
    mode = "linear probe (paper protocol)" if args.linear else "finetune"
    check_data_args(args, evaluation=True)
    train_index = index_from_args(args, "train")
    if args.train_videos:
        if train_index.multi_label:
            raise UserError(f"--train_videos draws the same number of videos per class: {args.dataset} is multi-label")
        train_index = severe_subset(train_index, args.train_videos)
    test_index = index_from_args(args, "test")
    check_same_classes(train_index.class_names, test_index.class_names)
    torch.manual_seed(args.seed)
    model, contract, description = build_model(args, recipe, len(train_index.class_names))
    config = {k: v for k, v in vars(args).items()}
    config.update(recipe_values=asdict(recipe), source_checkpoint=description)

    run = TrainingRun(args, "finetune" if not args.linear else "linear_probe", checkpoint_dir, log_dir, config)
    model = run.prepare_model(model)
    test = tester(args, recipe, run, contract, test_index)
    select = selection_tester(args, recipe, run, contract, test_index) if recipe.select_clips else None
    if args.test_only:
        metrics, unreadable = test(model)
        return report(args, out_dir, mode, recipe, description, contract, metrics, None, run, unreadable)
    if run.is_main:
        check_run_config(checkpoint_dir, config, KEYS_THAT_MATTER, args.restart)
        if args.train_videos:
            os.makedirs(out_dir, exist_ok=True)
            write_video_list(os.path.join(out_dir, "train_videos.txt"), train_index)
    distributed.barrier()
    augmentation = finetune_augmentation(contract.size, args.flip_prob, recipe.train_crop, contract.channel_order)
    builder = TrainClipBuilder(contract, augmentation, sample_fps=args.sample_fps)
    if recipe.train_clips_per_video > 1:  # an epoch draws that many clips of each video
        train_index = replace(train_index, records=list(train_index.records) * recipe.train_clips_per_video)
    dataset = VideoClipDataset(train_index, builder, backend=args.video_backend, seed=args.seed)
    loader = run.loader(dataset, args.batch_size, collate_samples)
    optimizer = build_optimizer(args, model, recipe)
    schedule = build_schedule(recipe, optimizer, args.epochs, len(loader))
    start = run.resume(model, optimizer, schedule)
    run.log(
        f"{mode} ({args.recipe} recipe: {recipe.source}{overridden(args, recipe)}): "
        f"{len(dataset) // recipe.train_clips_per_video} training videos (x {recipe.train_clips_per_video} clips "
        f"per epoch), "
        f"{len(train_index.class_names)} classes, {description['backbone']} from {description['saved_model']}, "
        f"epochs {start + 1}-{args.epochs}, batch {args.batch_size}, lr {args.lr}"
    )
    metrics, unreadable = train_and_test(run, model, loader, optimizer, schedule, start, test, recipe, select)
    best = run.best_accuracy if metrics and run.best_accuracy > -math.inf else None
    return report(args, out_dir, mode, recipe, description, contract, metrics, best, run, unreadable)


def tester(
    args: Namespace, recipe: Recipe, run: TrainingRun, contract: InputContract, test_index: DatasetIndex
) -> Tester:
    """``test(model, precision_context=None) -> (metrics, unreadable test videos)`` on the test
    split, with the recipe's views (clips, crops, test size)."""
    if args.test_size:
        contract = InputContract.from_dict({**contract.to_dict(), "size": args.test_size})
    options = dict(
        view=ClipView(args.num_clips, args.test_crops, recipe.crop_fraction, recipe.clip_starts, fps=args.sample_fps),
        batch_size=args.test_batch_size,
        device=run.device,
        num_workers=args.num_workers,
        backend=args.video_backend,
        aggregate=args.aggregate,
    )

    def test(model: nn.Module, precision_context=None):
        classes = len(test_index.class_names)
        return evaluate_classifier(model, contract, test_index, classes, precision_context=precision_context, **options)

    return test


def selection_tester(
    args: Namespace, recipe: Recipe, run: TrainingRun, contract: InputContract, test_index: DatasetIndex
) -> Tester:
    """SEVERE's per-epoch test: ``recipe.select_clips`` clips of every test video at random starts
    (new ones each epoch), the centre crop, each clip classified on its own (clip top-1)."""
    repeated = replace(test_index, records=list(test_index.records) * recipe.select_clips)
    classes = len(test_index.class_names)

    def test(model: nn.Module, precision_context=None, epoch: int = 0):
        view = ClipView(1, 1, recipe.crop_fraction, "random", seed=epoch, fps=args.sample_fps)
        options = dict(batch_size=args.test_batch_size, device=run.device, num_workers=args.num_workers)
        metrics, unreadable = evaluate_classifier(
            model, contract, repeated, classes, view=view, precision_context=precision_context,
            backend=args.video_backend, **options,
        )  # fmt: skip
        return metrics, sorted(set(unreadable))

    return test


def test_selected_epoch(run: TrainingRun, model: VideoClassifier, test: Tester) -> Optional[dict]:
    """Load ``best.pt`` (the epoch the selection tests chose) into ``model`` and test it densely
    on rank 0; the metrics name the epoch and its selection top-1 (without a ``best.pt``, from a run
    that never tested, the model as it is)."""
    path = os.path.join(run.checkpoint_dir, "best.pt")
    metrics = None
    if run.is_main:
        chosen = {}
        if os.path.exists(path):
            checkpoint = read_checkpoint_file(path)
            load_method_weights(model, checkpoint, path)
            chosen = dict(epoch=checkpoint["epoch"], selection_top1=checkpoint["training_state"]["best_accuracy"])
            run.log(f"testing the model of epoch {checkpoint['epoch']}, chosen by the selection test: {path}")
        metrics, unreadable = test(model, lambda: autocast(run.plan, run.device))
        metrics.update(chosen, unreadable_videos=unreadable)
    return broadcast(metrics)


def train_and_test(
    run: TrainingRun,
    model: VideoClassifier,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    start: int,
    test: Tester,
    recipe: Recipe,
    select: Optional[Tester] = None,
) -> tuple[Optional[dict], list[str]]:
    """``run.fit``, testing after the scheduled epochs (--test_epochs, else every --eval_every) and
    after the last (on rank 0), then saving; the run ends early after an epoch trained below the
    recipe's ``min_lr``. Only scheduled tests count towards the best accuracy. Returns the last
    test's (metrics, unreadable test videos); with ``select``, the scheduled tests are selection
    tests and the result is the dense test of the epoch they chose."""
    args, tested = run.args, {"metrics": None, "unreadable": []}

    def run_test(epoch) -> dict:
        metrics = None
        if run.is_main:
            context = lambda: autocast(run.plan, run.device)  # noqa: E731
            metrics, tested["unreadable"] = select(model, context, epoch) if select else test(model, context)
            metrics["epoch"] = epoch
            run.scalar(f"test/{main_metric(metrics)}", metrics[main_metric(metrics)], epoch)
        tested["metrics"] = broadcast(metrics)
        return tested["metrics"]

    def after_epoch(epoch, train) -> bool:
        done = epoch + 1
        stop = below_min_lr(optimizer, recipe.min_lr)
        scheduled = done in args.test_epochs if args.test_epochs else done % args.eval_every == 0
        metrics = run_test(done) if scheduled or stop or done == args.epochs else None
        run.log(
            f"epoch {done}/{args.epochs}: lr {optimizer.param_groups[0]['lr']:.3g}, loss "
            f"{train.get('loss', float('nan')):.4f}"
            + (f", train top-1 {train['train_top1']:.1f}" if "train_top1" in train else "")
            + (f", test {metric_name(metrics)} {metrics[main_metric(metrics)]:.2f}" if metrics else "")
            + f", {train['seconds']:.0f} s"
            + (f"; the lr is below {recipe.min_lr:g}: the run ends here (the recipe's rule)" if stop else "")
        )
        counted = metrics[main_metric(metrics)] if metrics and (scheduled or not args.test_epochs) else None
        run.save(done, model, optimizer, schedule, accuracy=counted)
        return stop

    finished = start >= args.epochs or below_min_lr(optimizer, recipe.min_lr)
    if start and finished and not run.resumed_mid_epoch:  # a stopped epoch is trained to its end first
        run.log(f"the run ended after epoch {start}: testing its last model")
        run.choose_precision(model, next(iter(loader)))  # the resumed run's
        run_test(start)
    else:
        run.fit(model, loader, optimizer, schedule, start, after_epoch)
    if select is not None:
        tested["metrics"] = test_selected_epoch(run, model, test)
        tested["unreadable"] = (tested["metrics"] or {}).pop("unreadable_videos", [])
    return tested["metrics"], tested["unreadable"]


def result_rows(args: Namespace, recipe: Recipe, metrics: dict, best: Optional[float]) -> list[tuple]:
    """The table's first rows: the reported number first, then the others the run has."""
    name = metric_name(metrics)
    epoch = metrics.get("epoch", args.epochs)
    if recipe.select_clips and best is not None:
        return [
            (f"{name} of epoch {epoch}, chosen by the selection tests ({args.num_clips} views)", metrics["top1"]),
            (f"its selection test: clip top-1, {recipe.select_clips} random clips per video", best),
        ]
    last = (f"{name} at the last epoch ({epoch})", metrics[main_metric(metrics)])
    tests = f"epochs {epoch_ranges(args.test_epochs)}" if args.test_epochs else f"every {args.eval_every} epochs"
    if best is None:
        return [last]
    best_row = (f"best {name} of the tests at {tests} (chosen on the test split)", best)  # restarts included
    return [best_row, last] if recipe.report_best else [last, best_row]


def write_video_list(path: str, index: DatasetIndex) -> None:
    """``<path relative to the data root> <label>`` per video: the subset a run trained on."""
    root = os.path.abspath(index.root)
    with atomic_open(path) as f:
        for record in index.records:
            f.write(f"{os.path.relpath(record.path, root)} {record.label}\n")


def main_metric(metrics: dict) -> str:
    """The key of the number a test is judged by: mAP for a multi-label dataset, else top-1."""
    return "mAP" if "mAP" in metrics else "top1"


def metric_name(metrics: dict) -> str:
    """``main_metric``'s name in tables and logs."""
    return {"top1": "top-1"}.get(main_metric(metrics), main_metric(metrics))


def below_min_lr(optimizer: torch.optim.Optimizer, min_lr: float) -> bool:
    """Whether the epoch just trained (or restored) ran below the recipe's ``min_lr``."""
    return min_lr > 0 and optimizer.param_groups[0]["lr"] < min_lr


def broadcast(obj: T) -> T:
    if not distributed.is_distributed():
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def report(
    args: Namespace,
    out_dir: str,
    mode: str,
    recipe: Recipe,
    description: dict,
    contract: InputContract,
    metrics: Optional[dict],
    best: Optional[float],
    run: TrainingRun,
    unreadable: list[str],
) -> int:
    """The table and results.json (``unreadable``: the test videos left out) on rank 0."""
    if run.is_main and metrics is not None:
        rows = result_rows(args, recipe, metrics, best)
        if "top5" in metrics:
            epoch = metrics.get("epoch", args.epochs)
            rows += [(f"top-5 (epoch {epoch})", metrics["top5"])]
            rows += [(f"mean per-class (epoch {epoch})", metrics["mean_class"])]
        else:
            rows += [("classes with a positive test video (in the mean)", metrics["classes_scored"])]
        rows += [("test videos", metrics["videos"]), ("views per video", args.num_clips * args.test_crops)]
        print_table(f"{mode}, {args.dataset} split {args.split}, {description['saved_model']}", rows)
        if recipe.report_best and best is not None:
            print(f"the {args.recipe} protocol reports the best test (its published numbers were chosen so)")
        results = {
            "metrics": metrics,
            "unreadable": {"test": unreadable},
            "best": best,
            "reported": "best" if recipe.report_best else "selected" if recipe.select_clips else "last",
            "test_epochs": list(args.test_epochs) or f"every {args.eval_every}",
            "mode": mode,
            "recipe": args.recipe,
            "recipe_source": recipe.source,
            **description,
            "dataset": args.dataset,
            "split": args.split,
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "num_clips": args.num_clips,
            "crops": args.test_crops,
            "aggregate": args.aggregate,
            "test_size": args.test_size or contract.size,
            "crop_fraction": recipe.crop_fraction,
            "clip_starts": recipe.clip_starts,
            "contract": contract.to_dict(),
            "checkpoints": run.checkpoint_dir,
        }
        print(f"results: {write_results(out_dir, results)}")
        if not args.test_only:
            print(f"checkpoints: {run.checkpoint_dir}\nTensorBoard logs: {run.log_dir}")
    run.close()
    return 0
