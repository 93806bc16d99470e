"""The finetune / paper-protocol linear evaluation driver behind ``finetune/train.py`` and
``linear_eval/train.py`` (``--protocol paper``, or without ``--linear``).

Recipes are presets of the flags; any flag given on the command line wins. Values marked
"published" come from the method's paper or code (DESIGN.md section 4); the others are this
project's choices, in the style of SEVERE-benchmark finetuning, and are labelled so.
"""

import argparse
import os
from dataclasses import asdict, dataclass, field

import torch

from videossl.data.args import add_data_args, add_flip_arg, index_from_args
from videossl.data.dataset import VideoClipDataset, collate_samples
from videossl.data.input_contract import InputContract
from videossl.engine import distributed
from videossl.engine.precision import autocast
from videossl.engine.schedules import MultiStep, WarmupCosine
from videossl.engine.training import TrainingRun, add_engine_args, check_run_config
from videossl.errors import UserError
from videossl.eval.classifier import AGGREGATIONS, TrainClipBuilder, VideoClassifier, evaluate_classifier
from videossl.eval.common import add_checkpoint_args, load_model_for_eval, print_table, write_results
from videossl.models.backbones import RESNETS_2D, build_backbone, tile_first_conv
from videossl.models.checkpoint import load_checkpoint, unwrap


@dataclass
class Recipe:
    optimizer: str = "sgd"
    lr: dict = field(default_factory=lambda: {"default": 1e-3})  # per dataset
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 100
    batch_size: int = 24
    dropout: float = 0.5
    schedule: str = "cosine"  # cosine (per step, no warm-up) or multistep
    milestones: tuple = ()
    gamma: float = 0.1
    frames: int = None  # None: the checkpoint's input contract
    stride: int = None
    num_clips: int = 10
    aggregate: str = "softmax_mean"
    stack_of_differences: int = 0  # TCE: 2D backbones take F-frame stacks of differences
    update_bn_stats: bool = False
    normalize_features: bool = False
    source: str = ""

    def lr_for(self, dataset):
        return self.lr.get(dataset, self.lr["default"])


RECIPES = {
    "tclr": Recipe(optimizer="adam", lr={"default": 1e-4}, weight_decay=1e-5, epochs=100, batch_size=24, dropout=0.5,
                   schedule="cosine",
                   source="this project's choice (TCLR/SEVERE-style: 16x112 clips, Adam, dropout 0.5, 10-clip test)"),
    "vtdl": Recipe(optimizer="sgd", lr={"default": 5e-4, "ucf101": 5e-4, "hmdb51": 1e-3}, weight_decay=1e-4, epochs=45,
                   batch_size=4, dropout=0.5, schedule="multistep", milestones=(10, 20, 25, 30, 35, 40), gamma=0.3,
                   frames=64, stride=1,
                   source="published VTDL finetune: 64 frames, lr 5e-4 / 1e-3, x0.3 at 10..40, 45 epochs, batch 4, "
                          "dropout 0.5 (momentum and weight decay: this project's choice)"),
    "tce": Recipe(optimizer="sgd", lr={"default": 1e-3}, weight_decay=1e-4, epochs=50, batch_size=32, dropout=0.5,
                  schedule="multistep", milestones=(25,), gamma=0.1, frames=6, stride=1, num_clips=19,
                  aggregate="logit_sum", stack_of_differences=6,
                  source="published TCE input: 6-frame stacks of differences, 19 stacks per test video, logits summed "
                         "(optimiser: this project's choice)"),
    "linear": Recipe(optimizer="adam", lr={"default": 1e-3}, weight_decay=0.0, epochs=100, batch_size=32, dropout=0.0,
                     schedule="cosine",
                     source="this project's linear protocol: frozen backbone and BN, Adam 1e-3, cosine, 100 epochs"),
    "linear_tclr": Recipe(optimizer="adam", lr={"default": 1e-3}, weight_decay=0.0, epochs=100, batch_size=32,
                          dropout=0.0, schedule="cosine", update_bn_stats=True,
                          source="TCLR's published linear evaluation lets BN statistics update (rest as 'linear')"),
}
FINETUNE_RECIPES = ("tclr", "vtdl", "tce")
LINEAR_RECIPES = ("linear", "linear_tclr")
# A --restart must not silently change what is being trained.
KEYS_THAT_MATTER = ("saved_model", "linear", "recipe", "dataset", "split", "frames", "stride", "dropout", "optimizer")


def build_parser(description, linear_default=False):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_id", default="dummy", help="names the output folder")
    parser.add_argument("--out_dir", default=None, help="checkpoints, logs and results.json (default: "
                                                        "<tool folder>/results/<run_id>)")
    parser.add_argument("--linear", action="store_true", default=linear_default,
                        help="freeze the backbone (a linear probe on augmented clips)")
    parser.add_argument("--protocol", default="paper", choices=("paper",), help=argparse.SUPPRESS)
    parser.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                        help="presets (default: tclr for finetuning, linear with --linear)")
    parser.add_argument("--test_only", action="store_true",
                        help="evaluate the checkpoint's own classifier on the test split, no training")
    add_checkpoint_args(parser, seed=False)
    group = parser.add_argument_group("recipe overrides (default: the recipe's value)")
    group.add_argument("--optimizer", default=None, choices=("sgd", "adam"))
    group.add_argument("--weight_decay", type=float, default=None)
    group.add_argument("--dropout", type=float, default=None)
    group.add_argument("--frames", type=int, default=None, help="frames per clip (default: the checkpoint's)")
    group.add_argument("--stride", type=int, default=None)
    group.add_argument("--size", type=int, default=None, help="crop size (default: the checkpoint's)")
    add_flip_arg(group)
    group.add_argument("--num_clips", type=int, default=None, help="evenly spaced test clips per video")
    group.add_argument("--test_crops", type=int, default=1, choices=(1, 3))
    group.add_argument("--aggregate", default=None, choices=AGGREGATIONS)
    group.add_argument("--update_bn_stats", action="store_true", default=None,
                       help="with --linear: let BatchNorm statistics follow the new data (TCLR's behaviour)")
    group.add_argument("--normalize_features", action="store_true", default=None,
                       help="L2-normalise the pooled feature before the linear layer (CVRL's linear protocol)")
    group.add_argument("--eval_every", type=int, default=5, help="epochs between tests (and at the end)")
    group.add_argument("--test_batch_size", type=int, default=4, help="test videos per batch")
    add_data_args(parser)
    add_engine_args(parser, epochs=None, batch_size=None, lr=None)
    return parser


def resolve_recipe(args):
    """Fill every unset flag from the recipe; returns the recipe used."""
    name = args.recipe or ("linear" if args.linear else "tclr")
    if args.linear and name not in LINEAR_RECIPES:
        raise UserError(f"--recipe {name} is a finetuning recipe; with --linear use {' or '.join(LINEAR_RECIPES)}")
    recipe = RECIPES[name]
    args.recipe = name
    for key in ("optimizer", "weight_decay", "dropout", "epochs", "batch_size", "frames", "stride", "num_clips",
                "aggregate", "update_bn_stats", "normalize_features"):
        if getattr(args, key) is None:
            setattr(args, key, getattr(recipe, key))
    if args.lr is None:
        args.lr = recipe.lr_for(args.dataset)
    return recipe


def adapt_contract(contract, args):
    changes = {k: getattr(args, k) for k in ("frames", "stride", "size") if getattr(args, k) is not None}
    return InputContract.from_dict({**contract.to_dict(), **changes}) if changes else contract


def to_stack_of_differences(backbone, frames):
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


def checkpoint_classifier(args):
    """The classifier head stored in --saved_model (a finetuned checkpoint), or None."""
    if args.saved_model == "random":
        return None
    heads = load_checkpoint(args.saved_model, trust=args.trust_checkpoint, source=args.checkpoint_format,
                            arch=args.arch).get("heads") or {}
    return heads.get("classifier")


def build_model(args, recipe, num_classes):
    backbone, contract, _, description = load_model_for_eval(args)
    if recipe.stack_of_differences:
        backbone = to_stack_of_differences(backbone, args.frames)
    contract = adapt_contract(contract, args)
    model = VideoClassifier(backbone, num_classes, dropout=args.dropout, freeze_backbone=args.linear,
                            update_bn_stats=bool(args.update_bn_stats), normalize_features=bool(args.normalize_features))
    head = checkpoint_classifier(args)
    if head is not None and not args.random_init:
        stored = head["weight"].shape[0]
        if stored != num_classes:
            if args.test_only:
                raise UserError(f"{args.saved_model}: its classifier has {stored} classes, the {args.dataset} split "
                                f"has {num_classes}; finetune it (without --test_only) to train a new classifier")
            print(f"note: the checkpoint's classifier has {stored} classes, {args.dataset} has {num_classes}: "
                  f"a new classifier is trained")
        else:
            model.fc.load_state_dict(head)
    elif args.test_only:
        raise UserError(f"--test_only needs a checkpoint with a trained classifier; {args.saved_model} has none")
    return model, contract, description


def build_optimizer(args, model):
    parameters = [p for p in model.parameters() if p.requires_grad]
    if args.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=args.lr, weight_decay=args.weight_decay)
    return torch.optim.SGD(parameters, lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)


def run_classification(args, tool_file):
    recipe = resolve_recipe(args)
    out_dir = args.out_dir or os.path.join(os.path.dirname(os.path.abspath(tool_file)), "results", args.run_id)
    checkpoint_dir, log_dir = os.path.join(out_dir, "checkpoints"), os.path.join(out_dir, "logs")
    mode = "linear probe (paper protocol)" if args.linear else "finetune"
    train_index = index_from_args(args, "train")
    test_index = index_from_args(args, "test")
    if train_index.class_names != test_index.class_names:
        raise UserError("the training and test indexes disagree on the classes")
    num_classes = len(train_index.class_names)
    torch.manual_seed(args.seed)
    model, contract, description = build_model(args, recipe, num_classes)
    config = {k: v for k, v in vars(args).items()}
    config.update(recipe_values=asdict(recipe), source_checkpoint=description)

    run = TrainingRun(args, "finetune" if not args.linear else "linear_probe", checkpoint_dir, log_dir)
    model = run.prepare_model(model)
    test_kwargs = dict(num_clips=args.num_clips, crops=args.test_crops, batch_size=args.test_batch_size,
                       device=run.device, num_workers=args.num_workers, backend=args.video_backend,
                       aggregate=args.aggregate)
    if args.test_only:
        metrics, unreadable = evaluate_classifier(model, contract, test_index, num_classes, **test_kwargs)
        return report(args, out_dir, mode, recipe, description, contract, metrics, None, run, unreadable)
    if run.is_main:
        check_run_config(checkpoint_dir, config, KEYS_THAT_MATTER, args.restart)
    distributed.barrier()
    dataset = VideoClipDataset(train_index, TrainClipBuilder(contract, flip_p=args.flip_prob), backend=args.video_backend, seed=args.seed)
    loader = run.loader(dataset, args.batch_size, collate_samples)
    optimizer = build_optimizer(args, model)
    if recipe.schedule == "multistep":
        schedule = MultiStep(optimizer, recipe.milestones, recipe.gamma)
    else:
        schedule = WarmupCosine(optimizer, 0, args.epochs, len(loader))
    heads = {"classifier": model.fc}
    start = run.resume(model.backbone, heads, optimizer, schedule)

    def compute_loss(net, batch):
        logits = net(run.to_device(contract.prepare(batch["clips"], run.device)))
        labels = torch.as_tensor(batch["label"], device=logits.device)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean() * 100
        return loss, {"train_top1": accuracy.detach()}

    run.log(f"{mode} ({args.recipe} recipe: {recipe.source}): {len(dataset)} training videos, {num_classes} classes, "
            f"{description['backbone']} from {description['saved_model']}, epochs {start + 1}-{args.epochs}, "
            f"batch {args.batch_size}, lr {args.lr}")
    run.choose_precision(model, compute_loss, next(iter(loader)))
    net = run.wrap(model)
    metrics, unreadable = None, []
    for epoch in range(start, args.epochs):
        train = run.train_epoch(epoch, loader, net, compute_loss, optimizer, schedule)
        last_epoch = epoch + 1 == args.epochs
        metrics = None
        if (epoch + 1) % args.eval_every == 0 or last_epoch:
            if run.is_main:
                metrics, unreadable = evaluate_classifier(unwrap(net), contract, test_index, num_classes,
                                                          precision_context=lambda: autocast(run.plan, run.device),
                                                          **test_kwargs)
                run.scalar("test/top1", metrics["top1"], epoch + 1)
            metrics = broadcast(metrics)
        run.log(f"epoch {epoch + 1}/{args.epochs}: loss {train.get('loss', float('nan')):.4f}, train top-1 "
                f"{train.get('train_top1', float('nan')):.1f}"
                + (f", test top-1 {metrics['top1']:.2f}" if metrics else "") + f", {train['seconds']:.0f} s")
        run.save(epoch + 1, unwrap(net).backbone, heads, optimizer, schedule, contract, config,
                 accuracy=metrics["top1"] if metrics else None)
    best = max(run.best_accuracy, metrics["top1"]) if metrics else None
    return report(args, out_dir, mode, recipe, description, contract, metrics, best, run, unreadable)


def broadcast(obj):
    if not distributed.is_distributed():
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def report(args, out_dir, mode, recipe, description, contract, metrics, best, run, unreadable):
    """The table and results.json (``unreadable``: the test videos left out) on rank 0."""
    if run.is_main and metrics is not None:
        rows = [("top-1 (last epoch)", metrics["top1"]), ("top-5", metrics["top5"]),
                ("mean per-class", metrics["mean_class"]), ("test videos", metrics["videos"]),
                ("views per video", args.num_clips * args.test_crops)]
        if best is not None:  # the best over every test of the run, restarts included
            rows.append(("best top-1 of the run (chosen on the test split)", best))
        print_table(f"{mode}, {args.dataset} split {args.split}, {description['saved_model']}", rows)
        results = {"metrics": metrics, "unreadable": {"test": unreadable}, "best": best, "mode": mode, "recipe": args.recipe,
                   "recipe_source": recipe.source, **description, "dataset": args.dataset, "split": args.split,
                   "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                   "num_clips": args.num_clips, "crops": args.test_crops, "aggregate": args.aggregate,
                   "contract": contract.to_dict(), "checkpoints": run.checkpoint_dir}
        print(f"results: {write_results(out_dir, results)}")
        if not args.test_only:
            print(f"checkpoints: {run.checkpoint_dir}\nTensorBoard logs: {run.log_dir}")
    run.close()
    return 0
