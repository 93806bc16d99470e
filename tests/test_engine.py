"""The training engine: resume that really resumes, the non-finite guard, schedules."""

import argparse
import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from videossl.data.input_contract import InputContract
from videossl.engine.schedules import MultiStep, WarmupCosine, WarmupPlateau
from videossl.engine.training import TrainingDiverged, TrainingRun, add_engine_args
from videossl.errors import UserError
from videossl.models.backbones import build_backbone


def engine_args(tmp_path, *extra):
    parser = argparse.ArgumentParser()
    add_engine_args(parser, epochs=2, batch_size=4, lr=0.05)
    return parser.parse_args(["--device", "cpu", "--precision", "fp32", "--num_workers", "0", *extra])


class Toy:
    """A tiny 3D backbone with a head using BatchNorm and dropout (state and randomness to resume)."""

    def __init__(self):
        torch.manual_seed(0)
        self.backbone = build_backbone("c3d", width=0.05)
        self.head = nn.Sequential(nn.Linear(self.backbone.dim, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                                  nn.Linear(8, 3))
        self.model = nn.ModuleDict({"backbone": self.backbone, "head": self.head})

    def loss(self, nan_steps=()):
        calls = [0]

        def compute(model, batch):
            x, y = batch
            features = model["backbone"](x).mean(dim=(2, 3, 4))
            loss = F.cross_entropy(model["head"](features), y)
            calls[0] += 1
            if calls[0] in nan_steps:
                loss = loss * float("nan")
            return loss, {"ce": loss.detach()}
        return compute


def dataset():
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(12, 3, 8, 32, 32, generator=g), torch.randint(0, 3, (12,), generator=g))


def train(tmp_path, args, epochs_to_run=None, nan_steps=()):
    toy = Toy()
    run = TrainingRun(args, "toy", str(tmp_path / "ckpt"), str(tmp_path / "logs"))
    loader = run.loader(dataset(), args.batch_size)
    model = run.prepare_model(toy.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = WarmupPlateau(optimizer, warmup=(0.5, 1.0), patience=1)
    start = run.resume(toy.backbone, {"head": toy.head}, optimizer, schedule)
    compute = toy.loss(nan_steps)
    run.choose_precision(model, compute, next(iter(loader)))
    last = args.epochs if epochs_to_run is None else start + epochs_to_run
    history = []
    for epoch in range(start, last):
        history.append(run.train_epoch(epoch, loader, model, compute, optimizer, schedule))
        run.save(epoch + 1, toy.backbone, {"head": toy.head}, optimizer, schedule, InputContract(frames=8, size=32),
                 vars(args))
    run.close()
    return toy, history, run


def test_resume_after_epoch_1_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    straight, _, _ = train(tmp_path / "a", engine_args(tmp_path))
    train(tmp_path / "b", engine_args(tmp_path), epochs_to_run=1)
    resumed, history, run = train(tmp_path / "b", engine_args(tmp_path, "--restart"))
    assert len(history) == 1 and run.step == 6  # 3 steps per epoch, the first epoch not repeated
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert sorted(os.listdir(tmp_path / "b" / "ckpt")) == ["checkpoint_epoch0001.pt", "checkpoint_epoch0002.pt"]


def test_restart_skips_a_corrupt_newest_checkpoint_and_says_so(tmp_path, capsys):
    train(tmp_path, engine_args(tmp_path), epochs_to_run=1)
    (tmp_path / "ckpt" / "checkpoint_epoch0002.pt").write_bytes(b"not a checkpoint")
    _, history, run = train(tmp_path, engine_args(tmp_path, "--restart"))
    assert len(history) == 1 and "checkpoint_epoch0001.pt" in capsys.readouterr().out


def test_restart_without_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no complete checkpoint"):
        train(tmp_path, engine_args(tmp_path, "--restart"))


def test_nonfinite_steps_are_skipped_then_the_run_stops_keeping_the_last_good_checkpoint(tmp_path):
    _, history, run = train(tmp_path / "skip", engine_args(tmp_path), nan_steps={2})
    assert run.nonfinite_total == 1 and all(math.isfinite(h["loss"]) for h in history)

    with pytest.raises(TrainingDiverged, match="3 steps in a row.*checkpoint_epoch0001.pt"):
        train(tmp_path / "stop", engine_args(tmp_path, "--max_nonfinite_steps", "3"), nan_steps={4, 5, 6, 7, 8, 9})
    good = torch.load(tmp_path / "stop" / "ckpt" / "checkpoint_epoch0001.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in good["backbone"]["state_dict"].values() if v.is_floating_point())


def test_schedules():
    def opt():
        return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)

    plateau = WarmupPlateau(opt(), warmup=(0.01, 0.05, 0.1, 0.5, 1), patience=2)
    lrs = []
    for epoch, loss in enumerate([5, 4, 3, 2, 1, 1, 1, 0.5, 0.6, 0.7]):
        plateau.start_epoch(epoch)
        lrs.append(plateau.lr)
        plateau.end_epoch(loss)
    assert lrs == pytest.approx([0.01, 0.05, 0.1, 0.5, 1, 1, 1, 0.1, 0.1, 0.1])

    cosine = WarmupCosine(opt(), warmup_epochs=1, total_epochs=3, steps_per_epoch=2)
    seen = [cosine.lr]
    for _ in range(5):
        cosine.after_step()
        seen.append(cosine.lr)
    assert seen == pytest.approx([0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))])

    steps = MultiStep(opt(), milestones=[2, 4], gamma=0.1)
    got = []
    for epoch in range(5):
        steps.start_epoch(epoch)
        got.append(steps.lr)
    assert got == pytest.approx([1, 1, 0.1, 0.1, 0.01])
