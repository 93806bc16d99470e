"""The training engine: resume that really resumes, the non-finite guard, schedules."""

import argparse
import math
import os
import pathlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videossl.data.input_contract import InputContract
from videossl.engine.method import Method
from videossl.engine.schedules import MultiStep, WarmupCosine, WarmupPlateau
from videossl.engine.training import TrainingDiverged, TrainingRun, add_engine_args, check_run_config
from videossl.errors import UserError
from videossl.models.backbones import build_backbone


def engine_args(tmp_path, *extra):
    parser = argparse.ArgumentParser()
    add_engine_args(parser, epochs=2, batch_size=4, lr=0.05)
    return parser.parse_args(["--device", "cpu", "--precision", "fp32", "--num_workers", "0", *extra])


class Toy(Method):
    """A tiny 3D backbone with a head using BatchNorm and dropout (state and randomness to resume);
    the loss of the training steps numbered in ``nan_steps`` (from 1) is NaN."""

    name = "toy"
    terms = ("ce",)

    def __init__(self, nan_steps=()):
        torch.manual_seed(0)
        super().__init__(build_backbone("c3d", width=0.05), InputContract(frames=8, size=32))
        self.head = nn.Sequential(
            nn.Linear(self.backbone.dim, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3)
        )
        self.nan_steps, self.steps_run = set(nan_steps), 0

    def state_modules(self):
        return {"head": self.head}

    def loss(self, batch, *, update_state=True):
        logits = self.head(self.backbone(batch["clips"]).mean(dim=(2, 3, 4)))
        loss = F.cross_entropy(logits, batch["label"])
        if update_state:
            self.steps_run += 1
            if self.steps_run in self.nan_steps:
                loss = loss * float("nan")
        return loss, {"ce": loss.detach()}


class Clips(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.clips, self.labels = torch.randn(12, 3, 8, 32, 32, generator=g), torch.randint(0, 3, (12,), generator=g)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"clips": self.clips[i], "label": self.labels[i]}


class JobEnded(Exception):
    """Raised after a checkpoint: the run stops there, as a job that ran out of time."""


def train(tmp_path, args, epochs_to_run=None, nan_steps=()):
    toy = Toy(nan_steps)
    run = TrainingRun(args, "toy", str(tmp_path / "ckpt"), str(tmp_path / "logs"), vars(args))
    loader = run.loader(Clips(), args.batch_size)
    method = run.prepare_model(toy)
    optimizer = torch.optim.Adam(method.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = WarmupPlateau(optimizer, warmup=(0.5, 1.0), patience=1)
    start = run.resume(method, optimizer, schedule)
    history = []

    def after_epoch(epoch, metrics):
        history.append(metrics)
        run.save(epoch + 1, method, optimizer, schedule, loss=metrics["loss"])
        if epochs_to_run is not None and epoch + 1 == start + epochs_to_run:
            raise JobEnded

    try:
        run.fit(method, loader, optimizer, schedule, start, after_epoch)
    except JobEnded:
        pass
    run.close()
    return toy, history, run


def test_resume_after_epoch_1_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path):
    straight, _, _ = train(tmp_path / "a", engine_args(tmp_path))
    train(tmp_path / "b", engine_args(tmp_path), epochs_to_run=1)
    resumed, history, run = train(tmp_path / "b", engine_args(tmp_path, "--restart"))
    assert len(history) == 1 and run.step == 6  # 3 steps per epoch, the first epoch not repeated
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert sorted(os.listdir(tmp_path / "b" / "ckpt")) == [
        "best.pt",
        "checkpoint_epoch0001.pt",
        "checkpoint_epoch0002.pt",
        "last.pt",
    ]


def test_kept_epochs_are_written_and_never_removed(tmp_path):
    # VTDL's paper preset keeps the epochs its release finetunes from (--keep_epochs 45,48)
    args = engine_args(tmp_path, "--epochs", "5", "--save_every", "3", "--keep_checkpoints", "1", "--keep_epochs", "2")
    train(tmp_path, args)
    kept = sorted(name for name in os.listdir(tmp_path / "ckpt") if name.startswith("checkpoint_epoch"))
    assert kept == ["checkpoint_epoch0002.pt", "checkpoint_epoch0005.pt"]  # epoch 3 was removed as stale


def test_restart_skips_a_corrupt_newest_checkpoint_and_says_so(tmp_path, capsys):
    train(tmp_path, engine_args(tmp_path), epochs_to_run=1)
    (tmp_path / "ckpt" / "last.pt").write_bytes(b"not a checkpoint")  # as if the disk failed mid-write
    _, history, run = train(tmp_path, engine_args(tmp_path, "--restart"))
    out = capsys.readouterr().out
    assert len(history) == 1 and "skipping" in out and "resumed from" in out and "checkpoint_epoch0001.pt" in out


def test_restart_without_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no complete checkpoint"):
        train(tmp_path, engine_args(tmp_path, "--restart"))


def test_nonfinite_steps_are_skipped_then_the_run_stops_keeping_the_last_good_checkpoint(tmp_path):
    _, history, run = train(tmp_path / "skip", engine_args(tmp_path), nan_steps={2})
    assert run.nonfinite_total == 1 and all(math.isfinite(h["loss"]) for h in history)

    with pytest.raises(TrainingDiverged, match="3 steps in a row.*last.pt"):
        train(tmp_path / "stop", engine_args(tmp_path, "--max_nonfinite_steps", "3"), nan_steps={4, 5, 6, 7, 8, 9})
    good = torch.load(tmp_path / "stop" / "ckpt" / "last.pt", weights_only=True)
    assert good["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in good["backbone"]["state_dict"].values() if v.is_floating_point())


def test_schedules():
    def opt():
        return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)

    plateau = WarmupPlateau(opt(), warmup=(0.01, 0.05, 0.1, 0.5, 1), patience=2)
    lrs = []
    for epoch, loss in enumerate([5, 4, 3, 2, 1, 1.5, 1.2, 0.5, 0.6, 0.7]):
        plateau.start_epoch(epoch)
        lrs.append(plateau.lr)
        plateau.end_epoch(loss)
    assert lrs == pytest.approx([0.01, 0.05, 0.1, 0.5, 1, 1, 1, 0.1, 0.1, 0.1])
    # TCLR's linear evaluation counts every epoch without a new best since the last drop; its
    # pretraining only those in a row (a new best at epoch 2 resets that count); equal losses do neither
    for in_a_row, expected in ((False, [1, 1, 1, 1, 0.1, 0.1, 0.1]), (True, [1] * 7)):
        plateau, lrs = WarmupPlateau(opt(), warmup=(), patience=2, in_a_row=in_a_row), []
        for epoch, loss in enumerate([5, 6, 4, 7, 3, 3, 3]):
            plateau.start_epoch(epoch)
            lrs.append(plateau.lr)
            plateau.end_epoch(loss)
        assert lrs == pytest.approx(expected)

    # Model Garden's: the cosine runs over all 6 steps from step 0; the warm-up climbs from 0 to
    # the cosine's value at step 2 and hands over there (the peak is never reached)
    cosine = WarmupCosine(opt(), warmup_epochs=1, total_epochs=3, steps_per_epoch=2)
    seen = [cosine.lr]
    for _ in range(6):
        cosine.after_step()
        seen.append(cosine.lr)
    at_2 = 0.5 * (1 + math.cos(math.pi * 2 / 6))
    assert seen == pytest.approx(
        [0.0, at_2 / 2, at_2, 0.5, 0.5 * (1 + math.cos(math.pi * 4 / 6)), 0.5 * (1 + math.cos(math.pi * 5 / 6)), 0.0]
    )
    # without a warm-up it is the plain cosine
    plain = WarmupCosine(opt(), warmup_epochs=0, total_epochs=2, steps_per_epoch=2)
    assert [plain.lr, (plain.after_step(), plain.lr)[1]] == pytest.approx([1.0, 0.5 * (1 + math.cos(math.pi / 4))])

    steps = MultiStep(opt(), milestones=[2, 4], gamma=0.1)
    got = []
    for epoch in range(5):
        steps.start_epoch(epoch)
        got.append(steps.lr)
    assert got == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_run_config_protects_existing_runs(tmp_path):
    folder = str(tmp_path / "run")
    config = {"arch": "r3d_18", "frames": 16, "lr": 1e-3}
    check_run_config(folder, config, ["arch", "frames"], restart=False)
    open(os.path.join(folder, "last.pt"), "wb").close()
    with pytest.raises(UserError, match="already holds checkpoints.*--restart"):
        check_run_config(folder, config, ["arch", "frames"], restart=False)
    check_run_config(folder, {**config, "lr": 1e-4}, ["arch", "frames"], restart=True)  # lr may change
    with pytest.raises(UserError, match="frames: 16 -> 8"):
        check_run_config(folder, {**config, "frames": 8}, ["arch", "frames"], restart=True)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _engine_worker(rank, world, port, tmp_path):
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    add_engine_args(parser, epochs=2, batch_size=4, lr=0.05)
    args = parser.parse_args(["--device", "cpu", "--precision", "auto", "--num_workers", "0"])
    toy, history, run = train(pathlib.Path(tmp_path), args)
    torch.save(
        {"state": toy.state_dict(), "history": history, "plan": run.plan.to_dict()},
        os.path.join(tmp_path, f"rank{rank}.pt"),
    )


def test_two_processes_under_ddp_train_the_same_weights_and_rank_0_saves(tmp_path):
    torch.multiprocessing.spawn(_engine_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for name, value in ranks[0]["state"].items():
        if "running" not in name and "num_batches" not in name:  # BatchNorm statistics stay per process
            assert torch.equal(value, ranks[1]["state"][name]), name
    assert ranks[0]["plan"] == ranks[1]["plan"]  # rank 0 verified the precision, both use its plan
    assert ranks[0]["history"][-1]["loss"] == pytest.approx(ranks[1]["history"][-1]["loss"])  # averaged over ranks
    checkpoint = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["step"] == 6  # 12 samples in batches of 4 (2 per process), 2 epochs
