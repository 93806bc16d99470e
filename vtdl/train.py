"""VTDL pretraining (Wang et al., 2020) on the shared core.

    cd vtdl && python train.py --run_id EXP [--restart] [--no_temporal_negative] [--no_tca]
    torchrun --nproc_per_node 4 vtdl/train.py --run_id i3d_ucf101 --dataset ucf101 \\
        --data_root /data/UCF101/UCF-101 --split_dir /data/UCF101/ucfTrainTestlist --sync_bn

Per video: an anchor clip (16 frames at stride 4, start uniform in [0, max(N - 128, 0)]), its
positive (the same frames, augmented again) and a temporal negative (the same video at another
time). Temporal consistent augmentation (TCA) mixes one random frame of the anchor into all its
frames with weight lambda = --tca_max x U[0, 1). The query encoder (with gradients) embeds the
anchor and the temporal negative; a momentum key encoder (--momentum_encoder) embeds the
positive; loss: cross-entropy over [q.k, q.queue, q.n] / 0.07 with target 0; the keys of every
process then enter a FIFO queue (5,000 for UCF101, 3,569 for HMDB51 by default). SGD 0.003,
momentum 0.9, weight decay 1e-4, 240 epochs, x0.1 at 120/160/200, batch 8, 224 px, ImageNet
mean/std, no flips. Every default is the release's (vtdl/recipe.py, docs/recipes.md); --preset demo
is the CPU recipe of scripts/run_matrix.py. --no_temporal_negative and --no_tca give the paper's
ablation rows. Under torchrun, --sync_bn synchronises BatchNorm
(the key encoder's included). The query encoder is the backbone the evaluation tools load.
"""

import os
import sys

if __package__ in (None, ""):  # run as a script from inside the folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from videossl.cli import run_cli
from videossl.data.augmentations import vtdl_clip_augmentation
from videossl.data.input_contract import IMAGENET
from videossl.engine import pretraining as engine
from videossl.models.backbones import build_backbone
from vtdl.dataset import VTDLSampleBuilder
from vtdl.model import VTDL
from vtdl.recipe import RECIPE

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_THAT_MATTER = engine.COMMON_KEYS_THAT_MATTER + ("stride", "queue_size", "no_temporal_negative", "no_tca")
ARCHS = ("i3d", "r3d_18_hara", "r3d_18", "r2plus1d_18", "c3d", "s3d")
DEFAULT_QUEUE = {"ucf101": 5000, "hmdb51": 3569}


def build_parser():
    parser = engine.pretraining_parser(__doc__, HERE, archs=ARCHS)
    vtdl = parser.add_argument_group("VTDL")
    vtdl.add_argument("--frames", type=int)
    vtdl.add_argument("--stride", type=int)
    vtdl.add_argument("--queue_size", type=int, help="default: 5000 (UCF101), 3569 (HMDB51)")
    vtdl.add_argument("--momentum_encoder", type=float)
    vtdl.add_argument("--temperature", type=float)
    vtdl.add_argument("--tca_max", type=float)
    vtdl.add_argument("--no_temporal_negative", action="store_true", help="ablation: no temporal negative")
    vtdl.add_argument("--no_tca", action="store_true", help="ablation: no temporal consistent augmentation")
    engine.add_step_decay_args(vtdl)
    return parser


def main(argv=None):
    args = engine.parse_args(build_parser(), RECIPE, argv)
    if args.queue_size is None:
        args.queue_size = DEFAULT_QUEUE.get(args.dataset, 5000)
    run = engine.start_run(args, RECIPE, KEYS_THAT_MATTER)
    builder = VTDLSampleBuilder(vtdl_clip_augmentation(args.size, args.flip_prob), args.frames, args.stride)
    loader = engine.training_loader(run, args, builder)

    backbone = build_backbone(args.arch, width=args.width)
    contract = engine.input_contract(args, stride=args.stride, **IMAGENET)
    method = VTDL(
        backbone,
        contract,
        args.queue_size,
        args.momentum_encoder,
        args.temperature,
        args.tca_max,
        temporal_negative=not args.no_temporal_negative,
        tca=not args.no_tca,
    )
    method = run.prepare_model(method)
    trained = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trained, lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    schedule = engine.step_decay_schedule(optimizer, args)
    start = run.resume(method, optimizer, schedule)
    details = (
        f"queue {args.queue_size}, temporal negative {'off' if args.no_temporal_negative else 'on'}, "
        f"TCA {'off' if args.no_tca else 'on'}"
    )
    engine.pretrain(run, method, loader, optimizer, schedule, start, details)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
