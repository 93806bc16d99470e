"""TCE pretraining (Knights et al., ICPR 2020) on the shared core.

    cd tce && python train.py --run_id EXP [--restart] [--arch resnet50] [--negatives mined|release|random]
    torchrun --nproc_per_node 4 tce/train.py --run_id r50_ucf101 --arch resnet50 --dataset ucf101 \\
        --data_root /data/UCF101/UCF-101 --split_dir /data/UCF101/ucfTrainTestlist

Per video and step: a frame and the frame --frame_gap later (the positive; the released code's
gap of 0 made it the same frame), one crop and flip for both, colour jitter and greyscale for each
on its own. A 2D ResNet embeds each frame (Linear to 128, L2-normalised). Loss: CMC's NCE with
--bank_negatives negatives drawn from a memory bank with one slot per video (the anchor's own
video never), temperature 0.07, plus --rotation_weight x a 4-way rotation prediction on the
anchor. After each step the videos' slots are overwritten by their anchors' embeddings.
--negatives mined (the default) takes the bank entries most similar to the anchor below a threshold
that rises from -1 to about 1 over training, filling up with random ones; release runs the
released threshold formula (every entry masked: random negatives); random draws them uniformly
without computing similarities. SGD 0.03, momentum 0.9, weight decay 1e-4, 50 epochs, x0.1 at 25,
batch 100. Input: RGB frames scaled to 224 x 224 with ImageNet mean/std. Every default is the
release's or says why not (tce/recipe.py, docs/recipes.md); --preset demo is the CPU recipe of
scripts/run_matrix.py. The evaluation tools apply the backbone per
frame; finetune/train.py --recipe tce finetunes it on stacks of frame differences.
"""

import os
import sys

if __package__ in (None, ""):  # run as a script from inside the folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from tce.dataset import TCESampleBuilder
from tce.hard_negatives import NEGATIVE_MODES
from tce.model import TCE
from tce.recipe import RECIPE
from videossl.cli import run_cli
from videossl.data.input_contract import IMAGENET
from videossl.engine import pretraining as engine
from videossl.models.backbones import RESNETS_2D, build_backbone

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_THAT_MATTER = engine.COMMON_KEYS_THAT_MATTER + ("frame_gap",)


def build_parser():
    parser = engine.pretraining_parser(__doc__, HERE, archs=tuple(RESNETS_2D))
    tce = parser.add_argument_group("TCE")
    tce.add_argument("--frame_gap", type=int, help="the positive is this many frames after the anchor")
    tce.add_argument("--bank_negatives", type=int)
    tce.add_argument("--temperature", type=float)
    tce.add_argument("--rotation_weight", type=float)
    tce.add_argument(
        "--negatives",
        choices=NEGATIVE_MODES,
        help="mined: hardest below a rising threshold; release: the released threshold (all random); random: uniform",
    )
    engine.add_step_decay_args(tce)
    return parser


def main(argv=None):
    args = engine.parse_args(build_parser(), RECIPE, argv)
    run = engine.start_run(args, RECIPE, KEYS_THAT_MATTER)
    builder = TCESampleBuilder(args.size, args.frame_gap, flip_p=args.flip_prob)
    loader = engine.training_loader(run, args, builder)

    backbone = build_backbone(args.arch, width=args.width)
    contract = engine.input_contract(args, stride=1, frames=1, **IMAGENET)
    method = TCE(
        backbone,
        contract,
        size=len(loader.dataset),
        total_steps=args.epochs * len(loader),
        negatives=args.bank_negatives,
        negative_mode=args.negatives,
        temperature=args.temperature,
        rotation_weight=args.rotation_weight,
    )
    method = run.prepare_model(method)
    optimizer = torch.optim.SGD(method.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    schedule = engine.step_decay_schedule(optimizer, args)
    start = run.resume(method, optimizer, schedule)
    details = f"{method.negatives} bank negatives ({args.negatives})"
    engine.pretrain(run, method, loader, optimizer, schedule, start, details)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
