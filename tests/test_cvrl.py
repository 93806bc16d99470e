"""CVRL: augmentation consistency, the head, LARS, and the training script end to end."""

import argparse
import json
import math
import os

import numpy as np
import pytest
import torch

from cvrl import train as cvrl_train
from cvrl.augmentation import cvrl_pair_augmentations
from cvrl.losses import cvrl_loss
from cvrl.model import CVRL, CVRLHead
from cvrl.recipe import RECIPE, REFERENCE_BATCH
from cvrl.train import build_optimizer
from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tests.helpers import run_torchrun_script, tiny_eval_args, tiny_run_args
from tsne import make_tsne
from videossl.data.input_contract import InputContract
from videossl.engine.optim import LARS, scaled_lr
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import load_backbone


def test_augmentation_is_identical_over_a_clip_and_differs_between_the_two_clips():
    g = np.random.default_rng(0)
    frame = torch.from_numpy(g.integers(0, 256, (3, 48, 64), dtype=np.uint8))
    clip = frame[None].repeat(8, 1, 1, 1)  # 8 identical frames [T, C, H, W]
    for seed in range(10):
        rng = np.random.default_rng(seed)
        first, second = (augment(clip, rng) for augment in cvrl_pair_augmentations(32))
        for out in (first, second):
            assert out.shape == (8, 3, 32, 32) and out.dtype == torch.uint8
            assert all(torch.equal(out[0], out[t]) for t in range(8))  # one set of parameters per clip
        assert not torch.equal(first, second)  # drawn independently for the two clips


def test_head_is_three_linear_bn_relu_blocks_then_linear_128():
    head = CVRLHead(2048)
    kinds = [type(m).__name__ for m in head.mlp]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU"] * 3 + ["Linear"]
    assert [m.out_features for m in head.mlp if isinstance(m, torch.nn.Linear)] == [2048, 2048, 2048, 128]
    model = CVRL(build_backbone("r3d_18", width=0.125), InputContract(frames=8, size=32), hidden=32)
    z1, z2 = model.embed(torch.rand(3, 2, 3, 8, 32, 32))
    assert z1.shape == z2.shape == (3, 128)
    assert torch.allclose(z1.norm(dim=1), torch.ones(3), atol=1e-5)


def test_lars_scales_weight_steps_by_the_trust_ratio_and_leaves_biases_plain():
    weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # norm 5
    bias = torch.nn.Parameter(torch.tensor([1.0]))
    weight.grad, bias.grad = torch.tensor([[0.6, 0.8]]), torch.tensor([0.5])  # weight gradient norm 1
    optimizer = LARS([weight, bias], lr=1.0, momentum=0.9, weight_decay=0.0, eta=0.001)
    optimizer.step()
    # trust ratio 0.001 * 5 / 1 = 0.005: the weight moves by 0.005 x its gradient; the bias by its gradient
    assert torch.allclose(weight, torch.tensor([[3.0 - 0.003, 4.0 - 0.004]]))
    assert torch.allclose(bias, torch.tensor([0.5]))
    weight.grad, bias.grad = torch.tensor([[0.6, 0.8]]), torch.tensor([0.5])
    optimizer.step()  # momentum: buffer = 0.9 x previous + new
    trust = 0.001 * weight.detach().norm() / 1.0
    expected = torch.tensor([[3.0 - 0.003, 4.0 - 0.004]]) - (
        0.9 * torch.tensor([[0.003, 0.004]]) + trust * torch.tensor([[0.6, 0.8]])
    )
    assert torch.allclose(weight, expected, atol=1e-7)


def tiny_args(tiny_synthetic, out_dir, *extra):
    return tiny_run_args(
        tiny_synthetic,
        out_dir,
        {"arch": "r3d_18", "frames": 8, "head_hidden": 64, "batch_size": 4, "lr": 1.0, "warmup_epochs": 0},
        *extra,
    )


def test_a_tiny_run_trains_and_every_evaluation_reads_its_checkpoint(tiny_synthetic, tmp_path):
    # 4 steps of 4 videos with fresh augmentations: the loss is too noisy to show learning here
    # (the demo matrix does); the run must finish with finite losses
    assert cvrl_train.main(tiny_args(tiny_synthetic, tmp_path, "--epochs", "4")) == 0
    last = tmp_path / "ss_saved_models" / "tiny" / "last.pt"
    checkpoint = torch.load(last, weights_only=True)
    history = [h["loss"] for h in checkpoint["training_state"]["history"]]
    assert len(history) == 4 and all(math.isfinite(h) for h in history)
    assert checkpoint["method"] == "cvrl" and "projection" in checkpoint["heads"]
    backbone, contract, _ = load_backbone(str(last))
    assert contract.frames == 8 and contract.stride == 2 and contract.channel_order == "rgb"
    common = tiny_eval_args(tiny_synthetic, str(last))
    assert linear_train.main(common + ["--linear", "--epochs", "3", "--out_dir", str(tmp_path / "lin")]) == 0
    assert complete_retrieval.main(common + ["--out_dir", str(tmp_path / "ret"), "--picture_queries", "0"]) == 0
    assert make_tsne.main(common + ["--output", str(tmp_path / "tsne" / "t.png")]) == 0
    for folder in ("lin", "ret", "tsne"):
        assert json.load(open(tmp_path / folder / "results.json"))["method"] == "cvrl"


def test_two_processes_under_torchrun_complete_with_gathered_negatives(tiny_synthetic, tmp_path):
    run_torchrun_script(
        os.path.join("cvrl", "train.py"), tiny_args(tiny_synthetic, tmp_path, "--epochs", "1"), tmp_path
    )
    checkpoint = torch.load(tmp_path / "ss_saved_models" / "tiny" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["config"]["batch_size"] == 4


def test_cvrl_loss_is_loss_a_plus_loss_b_by_hand():
    # two videos, two clips each, 2-d unit embeddings; temperature 0.5
    z_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z_b = torch.tensor([[0.6, 0.8], [0.8, -0.6]])
    t = 0.5

    def anchor_loss(anchor, positive, negatives):
        logits = torch.tensor([anchor @ positive] + [anchor @ n for n in negatives]) / t
        return -(logits[0] - torch.logsumexp(logits, 0))

    loss_a = (anchor_loss(z_a[0], z_b[0], [z_a[1], z_b[1]]) + anchor_loss(z_a[1], z_b[1], [z_a[0], z_b[0]])) / 2
    loss_b = (anchor_loss(z_b[0], z_a[0], [z_b[1], z_a[1]]) + anchor_loss(z_b[1], z_a[1], [z_b[0], z_a[0]])) / 2
    assert cvrl_loss(z_a, z_b, t).item() == pytest.approx((loss_a + loss_b).item(), rel=1e-6)


def test_learning_rate_is_0_32_at_batch_1024_and_scales_linearly():
    assert scaled_lr(RECIPE.values()["lr"], 1024, REFERENCE_BATCH) == pytest.approx(0.32)
    assert scaled_lr(RECIPE.values()["lr"], 256, REFERENCE_BATCH) == pytest.approx(0.08)


def test_weight_decay_reaches_kernels_only():
    model = CVRL(build_backbone("r3d_18", width=0.125), InputContract(frames=8, size=32), hidden=16)
    args = argparse.Namespace(optimizer="sgd", weight_decay=0.1)
    optimizer = build_optimizer(model, args, lr=1.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # zero gradients: only weight decay moves a parameter, by lr x 0.1 x w
    for name, p in model.named_parameters():
        expected = before[name] * 0.9 if p.ndim > 1 else before[name]  # conv/linear kernels vs BN and biases
        assert torch.allclose(p.detach(), expected), name
    assert any("bn" in n or "mlp.1" in n for n, p in model.named_parameters() if p.ndim == 1)
