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
import torch.nn.functional as F

from tce.dataset import TCESampleBuilder
from tce.hard_negatives import NEGATIVE_MODES, mine_negatives, mining_threshold
from tce.model import TCEMemory, TCEModel
from tce.recipe import RECIPE
from videossl.cli import run_cli
from videossl.data.args import index_from_args
from videossl.data.dataset import VideoClipDataset, collate_samples
from videossl.data.input_contract import IMAGENET
from videossl.engine import distributed
from videossl.engine.pretraining import (
    COMMON_KEYS_THAT_MATTER,
    add_step_decay_args,
    input_contract,
    pretraining_parser,
    start_run,
    step_decay_schedule,
    train_epochs,
)
from videossl.losses.contrastive import nce_memory_bank_loss
from videossl.models.backbones import RESNETS_2D, build_backbone
from videossl.recipes import parse_with_preset

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_THAT_MATTER = COMMON_KEYS_THAT_MATTER + ("frame_gap",)


def build_parser():
    parser = pretraining_parser(__doc__, HERE, archs=tuple(RESNETS_2D))
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
    add_step_decay_args(tce)
    return parser


def main(argv=None):
    args = parse_with_preset(build_parser(), RECIPE, argv)
    run, config = start_run(args, RECIPE, KEYS_THAT_MATTER)
    index = index_from_args(args, "train", progress=run.is_main)
    contract = input_contract(args, stride=1, frames=1, **IMAGENET)
    builder = TCESampleBuilder(args.size, args.frame_gap, flip_p=args.flip_prob)
    dataset = VideoClipDataset(index, builder, backend=args.video_backend, seed=args.seed)
    loader = run.loader(dataset, args.batch_size, collate_samples)

    model = run.prepare_model(TCEModel(build_backbone(args.arch, width=args.width)))
    memory = TCEMemory(len(dataset)).to(run.device)
    negatives = min(args.bank_negatives, len(dataset) - 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    schedule = step_decay_schedule(optimizer, args)
    heads = {"projection": model.head, "rotation": model.rotation_head, "memory": memory}
    start = run.resume(model.backbone, heads, optimizer, schedule)

    def compute_loss(net, batch, update_memory=True):
        a, p, rotation_logits = net(contract.prepare(batch["clips"], run.device))
        indices = torch.as_tensor(batch["index"], device=a.device)
        if args.negatives == "random":
            drawn = memory.bank.sample_negatives(indices, negatives)
        else:  # the release counts steps from 1 over the whole run
            threshold = mining_threshold(run.step + 1, args.epochs * len(loader), args.negatives)
            drawn = mine_negatives(a.detach(), memory.bank.memory, indices, negatives, threshold)
        bank_negatives = memory.bank.memory[drawn]  # [B, K, D]
        known = float(memory.normalizer) > 0
        nce, normalizer = nce_memory_bank_loss(
            a.float(), p.float(), bank_negatives, args.temperature, len(dataset), memory.normalizer if known else None
        )
        rotation = F.cross_entropy(rotation_logits.float(), torch.as_tensor(batch["rotation"], device=a.device))
        if update_memory:
            if not known:  # CMC fixes Z after the first batch (the same value on every process)
                memory.normalizer.fill_(distributed.all_reduce_mean(float(normalizer)))
            # every process writes every process's anchors, so the banks stay identical
            memory.bank.update(distributed.gather_no_grad(indices), distributed.gather_no_grad(a.detach()))
        return nce + args.rotation_weight * rotation, {"nce": nce.detach(), "rotation": rotation.detach()}

    train_epochs(
        run,
        args,
        model,
        loader,
        compute_loss,
        lambda net, batch: compute_loss(net, batch, update_memory=False),
        optimizer,
        schedule,
        heads,
        contract,
        config,
        start,
        clips_per_sample=3,
        terms=("nce", "rotation"),
        details=f"{negatives} bank negatives ({args.negatives})",
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
