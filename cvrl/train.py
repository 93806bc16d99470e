"""CVRL pretraining (Qian et al., CVPR 2021) on the shared core.

    cd cvrl && python train.py --run_id EXP [--restart]
    torchrun --nproc_per_node 8 cvrl/train.py --run_id k400 --dataset kinetics \\
        --data_root /data/kinetics400/train --list_file /data/kinetics400/train.csv --batch_size 1024 --optimizer lars

Per video: two 16-frame clips at stride 2 whose start gap is drawn with density proportional to
(1 - gap / D) (close clips are likelier), each augmented on its own (random resized crop, flip,
colour jitter over the whole clip, greyscale, blur always on the first and with p 0.1 on the
second, solarisation p 0.2 on the second). Backbone R3D-50 slow-only; head 3 x (Linear 2048,
BN, ReLU), Linear 128; NT-Xent at temperature 0.1 with negatives gathered from every process.
The loss is the release's loss_a + loss_b (twice the mean over 2N anchors). SGD (or --optimizer
lars) with momentum 0.9, weight decay 1e-6 on kernels only, learning rate --lr x batch / 1024 (the
release's 0.32 is for a global batch of 1024), 5 warm-up epochs, then cosine; SyncBN under torchrun.
Input RGB in [0, 1]. Every default is the release's (cvrl/recipe.py, docs/recipes.md); --preset demo
is the CPU recipe of scripts/run_matrix.py. Checkpoints go to
ss_saved_models/<run_id>/ and TensorBoard logs to logs/<run_id>/ next to this script unless
--out_dir is given.
"""

import os
import sys

if __package__ in (None, ""):  # run as a script from inside the folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from cvrl.augmentation import cvrl_pair_augmentations
from cvrl.dataset import CVRLSampleBuilder
from cvrl.model import CVRL
from cvrl.recipe import RECIPE, REFERENCE_BATCH
from videossl.cli import run_cli
from videossl.engine import pretraining as engine
from videossl.engine.optim import LARS, kernel_decay_groups, scaled_lr
from videossl.engine.schedules import WarmupCosine
from videossl.models.backbones import build_backbone

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_THAT_MATTER = engine.COMMON_KEYS_THAT_MATTER + ("stride", "head_hidden")
ARCHS = ("r3d_50", "r3d_18", "r2plus1d_18", "s3d", "i3d")


def build_parser():
    parser = engine.pretraining_parser(__doc__, HERE, archs=ARCHS)
    cvrl = parser.add_argument_group("CVRL")
    cvrl.add_argument("--frames", type=int)
    cvrl.add_argument("--stride", type=int)
    cvrl.add_argument("--temperature", type=float)
    cvrl.add_argument("--optimizer", choices=("sgd", "lars"))
    cvrl.add_argument("--weight_decay", type=float, help="on conv and linear kernels only")
    cvrl.add_argument("--warmup_epochs", type=int)
    cvrl.add_argument("--head_hidden", type=int, help="width of the 3 hidden head layers")
    return parser


def build_optimizer(model, args, lr):
    """SGD (the release) or LARS, momentum 0.9; weight decay on kernels only in both."""
    if args.optimizer == "lars":
        return LARS(model.parameters(), lr=lr, momentum=0.9, weight_decay=args.weight_decay)
    return torch.optim.SGD(kernel_decay_groups(model, args.weight_decay), lr=lr, momentum=0.9)


def main(argv=None):
    args = engine.parse_args(build_parser(), RECIPE, argv)
    run = engine.start_run(args, RECIPE, KEYS_THAT_MATTER)
    builder = CVRLSampleBuilder(
        cvrl_pair_augmentations(args.size, args.flip_prob), frames=args.frames, stride=args.stride
    )
    loader = engine.training_loader(run, args, builder)

    backbone = build_backbone(args.arch, width=args.width)
    contract = engine.input_contract(args, stride=args.stride)
    method = run.prepare_model(CVRL(backbone, contract, args.temperature, hidden=args.head_hidden))
    lr = scaled_lr(args.lr, args.batch_size, REFERENCE_BATCH)
    optimizer = build_optimizer(method, args, lr)
    schedule = WarmupCosine(optimizer, args.warmup_epochs, args.epochs, len(loader))
    start = run.resume(method, optimizer, schedule)
    engine.pretrain(run, method, loader, optimizer, schedule, start, details=f"lr {lr:.3g} ({args.optimizer})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
