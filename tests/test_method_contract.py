"""The method contract (docs/design.md, "Adding a method"): a sixth method, defined in this file in
a few dozen lines, pretrains through the engine, resumes, and its checkpoint works in retrieval and
the linear probe without any further code."""

import json
import os

import torch
import torch.nn.functional as F
from torch import nn

from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tests.helpers import tiny_eval_args, tiny_run_args
from videossl.data.sampling import sample_random_clip
from videossl.data.transforms import frames_to_clip, stack_clips
from videossl.engine.method import Method
from videossl.engine.pretraining import (
    COMMON_KEYS_THAT_MATTER,
    input_contract,
    pretrain,
    pretraining_parser,
    start_run,
    training_loader,
)
from videossl.engine.schedules import MultiStep
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import read_checkpoint_file
from videossl.recipes import Recipe, Setting, parse_with_preset

# ---- the sixth method: is a clip played forwards or backwards? ----------------------------------

RECIPE = Recipe(
    "arrow",
    [
        Setting("backbone", "R3D-18", "this test", flag="arch", value="r3d_18"),
        Setting("clip", "8 frames", "this test", flag="frames", value=8),
        Setting("crop", "32 px", "this test", flag="size", value=32),
        Setting("epochs", "2", "this test", flag="epochs", value=2),
        Setting("batch", "4", "this test", flag="batch_size", value=4),
        Setting("learning rate", "0.01", "this test", flag="lr", value=0.01),
        Setting("kNN monitor", "every epoch", "this test", flag="knn_every", value=1),
    ],
)


class ArrowSamples:
    """A random clip and the same clip played backwards: ``{"clips": uint8 [2, C, T, H, W]}``."""

    def __init__(self, frames):
        self.frames_needed = frames

    def __call__(self, reader, rng):
        clip = frames_to_clip(reader.get_frames(list(sample_random_clip(reader.num_frames, rng, self.frames_needed))))
        return {"clips": stack_clips([clip, clip.flip(0)])}


class ArrowOfTime(Method):
    name = "arrow"
    clips_per_sample = 2

    def __init__(self, backbone, contract):
        super().__init__(backbone, contract)
        self.head = nn.Linear(backbone.dim, 2)

    def state_modules(self):
        return {"arrow": self.head}

    def loss(self, batch, *, update_state=True):
        clips = self.model_input(batch["clips"])  # [B, 2 (forwards, backwards), C, T, H, W]
        logits = self.head(self.backbone(clips.flatten(0, 1)).mean(dim=(2, 3, 4)))
        return F.cross_entropy(logits, torch.arange(2, device=logits.device).repeat(len(clips))), {}


def main(argv):
    args = parse_with_preset(pretraining_parser("arrow of time", ".", archs=("r3d_18",)), RECIPE, argv)
    run = start_run(args, RECIPE, COMMON_KEYS_THAT_MATTER)
    loader = training_loader(run, args, ArrowSamples(args.frames))
    contract = input_contract(args, stride=1)
    method = run.prepare_model(ArrowOfTime(build_backbone(args.arch, width=args.width), contract))
    optimizer = torch.optim.SGD(method.parameters(), lr=args.lr, momentum=0.9)
    schedule = MultiStep(optimizer, milestones=[2])
    pretrain(run, method, loader, optimizer, schedule, run.resume(method, optimizer, schedule))


# ---- the test ----------------------------------------------------------------------------------


def test_a_sixth_method_pretrains_resumes_and_evaluates_from_its_checkpoint(tiny_synthetic, tmp_path, capsys):
    argv = tiny_run_args(tiny_synthetic, str(tmp_path / "arrow"), {})
    main(argv + ["--epochs", "1"])
    main(argv + ["--restart"])  # the recipe's 2 epochs: continues from the first
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2/2" in out and "kNN top-1" in out
    last = str(tmp_path / "arrow" / "ss_saved_models" / "tiny" / "last.pt")
    checkpoint = read_checkpoint_file(last)
    assert checkpoint["method"] == "arrow" and checkpoint["epoch"] == 2 and set(checkpoint["heads"]) == {"arrow"}
    assert [h["epoch"] for h in checkpoint["training_state"]["history"]] == [1, 2]

    common = tiny_eval_args(tiny_synthetic, last)
    assert complete_retrieval.main([*common, "--out_dir", str(tmp_path / "retrieval")]) == 0
    assert linear_train.main([*common, "--out_dir", str(tmp_path / "linear"), "--linear", "--epochs", "2"]) == 0
    for tool, metric in (("retrieval", "R@1"), ("linear", "top1")):
        results = json.load(open(tmp_path / tool / "results.json"))
        assert 0 <= results["metrics"][metric] <= 100 and results["method"] == "arrow"
    assert os.path.exists(tmp_path / "retrieval" / "retrieval.png")
