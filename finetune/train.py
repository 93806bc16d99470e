"""Finetune any checkpoint on UCF101 or HMDB51: the full network, dropout, a multi-view test.

    cd finetune && python train.py --saved_model PATH --dataset ucf101 --split 1 [--recipe tclr|vtdl|tce]
    cd finetune && python train.py --saved_model random --arch r3d_18     # the from-scratch baseline
    cd finetune && python train.py --saved_model results/EXP/checkpoints/best.pt --test_only

Training: one randomly placed clip per video per step (square crop, flip), preprocessed as the
checkpoint's input contract says; the recipe sets optimiser, learning rate, schedule, epochs,
batch, dropout, frames and the test (videossl/eval/finetune.py lists them and where each value
comes from; flags override them). Every --eval_every epochs and at the end, every test video is
classified from --num_clips evenly spaced clips (x --test_crops), softmax averaged. Writes
checkpoints (last, best by test top-1, every --save_every epochs), TensorBoard logs and
results.json to finetune/results/<run_id>/ or --out_dir. Works under torchrun.
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videossl.cli import run_cli
from videossl.eval.finetune import build_parser, run_classification


def main(argv=None):
    args = build_parser(__doc__).parse_args(argv)
    return run_classification(args, __file__)


if __name__ == "__main__":
    sys.exit(run_cli(main))
