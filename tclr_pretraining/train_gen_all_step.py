"""TCLR pretraining (Dave et al., CVIU 2022) on the shared core.

    cd tclr_pretraining && python train_gen_all_step.py --run_id EXP [--restart]
    torchrun --nproc_per_node 4 tclr_pretraining/train_gen_all_step.py --run_id EXP --dataset ucf101 \\
        --data_root /data/UCF101/UCF-101 --split_dir /data/UCF101/ucfTrainTestlist

Per video: a 64-frame window; the global clip (16 frames at stride 4 over it) and 4 local clips
(its 4 consecutive 16-frame pieces), each in two independently augmented views. Loss: instance
contrast of global clips and of local clips, local-local and global-local temporal contrast
(tclr_pretraining/losses.py). Every default is the release's (tclr_pretraining/recipe.py, with its
source files, and docs/recipes.md): R3D-18 with the layer4 variant, Adam 1e-3, weight decay 1e-9,
batch 40, 5-epoch warm-up, lr / 10 after 9 epochs without a new best loss, BGR input in [0, 1].
--preset demo is the CPU recipe of make demo. Checkpoints go to ss_saved_models/<run_id>/ (last.pt, best.pt and every
--save_every epochs) and TensorBoard logs to logs/<run_id>/, both next to this script unless
--out_dir is given.
"""

import os
import sys

if __package__ in (None, ""):  # run as a script from inside the folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from tclr_pretraining.augmentation import tclr_clip_augmentation
from tclr_pretraining.dataset import TCLRSampleBuilder
from tclr_pretraining.losses import TERMS, parse_loss_weights
from tclr_pretraining.model import TCLR
from tclr_pretraining.recipe import RECIPE
from videossl.cli import non_negative_int, run_cli
from videossl.engine import pretraining as engine
from videossl.engine.schedules import WarmupPlateau
from videossl.errors import UserError
from videossl.models.backbones import build_backbone

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_THAT_MATTER = engine.COMMON_KEYS_THAT_MATTER + ("num_local", "min_video_frames")


def build_parser():
    parser = engine.pretraining_parser(__doc__, HERE, archs=("r3d_18", "r2plus1d_18"))
    tclr = parser.add_argument_group("TCLR")
    tclr.add_argument("--frames", type=int, help="frames per clip (the window is frames x num_local)")
    tclr.add_argument("--num_local", type=int)
    tclr.add_argument(
        "--min_video_frames", type=non_negative_int, help="leave out training videos shorter than this (0: keep all)"
    )
    tclr.add_argument("--temperature", type=float)
    tclr.add_argument("--weight_decay", type=float)
    tclr.add_argument("--patience", type=int, help="epochs without a new best loss before lr / 10")
    tclr.add_argument("--warmup", help="learning-rate factors of the first epochs")
    tclr.add_argument(
        "--loss_weights", default="", help=f"e.g. 'global_local=2,local_local=0.5'; terms: {', '.join(TERMS)}"
    )
    return parser


def parse_warmup(text):
    try:
        factors = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise UserError(f"--warmup {text!r}: expected comma-separated numbers, e.g. 0.1,1") from None
    if any(f <= 0 for f in factors):
        raise UserError(f"--warmup {text!r}: factors must be positive")
    return factors


def main(argv=None):
    args = engine.parse_args(build_parser(), RECIPE, argv)
    try:
        weights = parse_loss_weights(args.loss_weights)
    except ValueError as err:
        raise UserError(str(err)) from None
    run = engine.start_run(args, RECIPE, KEYS_THAT_MATTER)
    builder = TCLRSampleBuilder(
        tclr_clip_augmentation(args.size, args.flip_prob, args.channel_order),
        clip_frames=args.frames,
        num_local=args.num_local,
    )
    loader = engine.training_loader(run, args, builder, min_frames=args.min_video_frames)

    backbone = build_backbone(args.arch, width=args.width, keep_time_in_layer4=True)
    contract = engine.input_contract(args, stride=2)
    method = run.prepare_model(TCLR(backbone, contract, args.num_local, args.temperature, weights))
    optimizer = torch.optim.Adam(method.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    schedule = WarmupPlateau(optimizer, warmup=parse_warmup(args.warmup), patience=args.patience)
    start = run.resume(method, optimizer, schedule)
    engine.pretrain(run, method, loader, optimizer, schedule, start)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
