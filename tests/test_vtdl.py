"""VTDL: temporal consistent augmentation, the samples, the model, and the training script."""

import json
import os

import numpy as np
import pytest
import torch

from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tests.helpers import run_torchrun_script, tiny_eval_args, tiny_run_args
from videossl.data.input_contract import IMAGENET, InputContract
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import load_backbone
from vtdl import train as vtdl_train
from vtdl.augmentation import sample_tca, temporal_consistent_augmentation
from vtdl.dataset import VTDLSampleBuilder
from vtdl.model import VTDL


@pytest.mark.parametrize("lam", [0.0, 0.037, 0.1])
def test_tca_scales_every_temporal_difference_by_one_minus_lambda(lam):
    g = torch.Generator().manual_seed(0)
    clips = torch.rand(3, 3, 6, 5, 5, generator=g, dtype=torch.float64)
    frame_index = torch.tensor([0, 3, 5])
    out = temporal_consistent_augmentation(clips, lam, frame_index)
    for j in range(6):
        for k in range(6):
            assert torch.allclose(out[:, :, j] - out[:, :, k], (1 - lam) * (clips[:, :, j] - clips[:, :, k]))
    # the mixed-in frame is the clip's own frame s: at s, the frame is unchanged
    for b, s in enumerate(frame_index.tolist()):
        assert torch.allclose(out[b, :, s], clips[b, :, s])
    lam_drawn, index = sample_tca(4, 6, tca_max=0.1, generator=torch.Generator().manual_seed(1))
    assert 0 <= lam_drawn < 0.1 and index.shape == (4,) and int(index.max()) < 6


def test_samples_hold_anchor_positive_of_the_same_frames_and_a_temporal_negative(tmp_path):
    from tests.helpers import read_index, write_index_video
    from videossl.video import open_video

    path = str(tmp_path / "v.avi")
    write_index_video(path, 60, 64, 64)
    identity = lambda clip, rng: clip  # noqa: E731 - no augmentation: the frame numbers stay readable
    with open_video(path) as reader:
        for seed in range(5):
            clips = VTDLSampleBuilder(identity, frames=4, stride=4)(reader, np.random.default_rng(seed))["clips"]
            frames = [[read_index(clips[c, :, t].permute(1, 2, 0).numpy()) for t in range(4)] for c in range(3)]
            assert frames[0] == frames[1]  # the positive: the anchor's frames
            assert not set(frames[2]) & set(frames[0]) or frames[2] != frames[0]  # never the anchor itself
            assert frames[2] != frames[0]


def test_keys_come_from_the_momentum_encoder_and_queries_carry_gradients():
    torch.manual_seed(0)
    model = VTDL(build_backbone("r3d_18", width=0.125), InputContract(frames=4, size=32), queue_size=16, momentum=0.5)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)  # query and key encoders now differ
    key_before = [p.clone() for p in model.key_backbone.parameters()]
    x = torch.rand(2, 3, 4, 32, 32)
    q, k = model.embed(x), model.embed_keys(x)
    assert q.requires_grad and not k.requires_grad
    for before, key, query in zip(key_before, model.key_backbone.parameters(), model.backbone.parameters()):
        assert torch.allclose(key, 0.5 * before + 0.5 * query)  # moved half-way before computing the keys


def test_the_loss_without_state_updates_changes_nothing_and_the_training_loss_does():
    # the engine's precision check runs loss(update_state=False): queue and key encoder untouched
    torch.manual_seed(0)
    model = VTDL(build_backbone("r3d_18", width=0.125), InputContract(frames=4, size=32), queue_size=16, momentum=0.5)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
    batch = {"clips": torch.randint(0, 256, (2, 3, 3, 4, 32, 32), dtype=torch.uint8)}
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    loss, _ = model.loss(batch, update_state=False)
    assert loss.requires_grad
    after = model.state_dict()
    assert all(torch.equal(value, after[name]) for name, value in before.items())
    model.loss(batch)
    after = model.state_dict()
    assert not torch.equal(before["queue.keys"], after["queue.keys"]) and int(after["queue.pointer"]) == 2
    assert not torch.equal(before["key_backbone.stem.0.weight"], after["key_backbone.stem.0.weight"])


def tiny_args(tiny_synthetic, out_dir, *extra):
    return tiny_run_args(
        tiny_synthetic,
        out_dir,
        {"arch": "r3d_18", "frames": 8, "stride": 2, "queue_size": 4, "batch_size": 2, "lr": 0.05},
        *extra,
    )


@pytest.mark.parametrize("ablation", [["--no_temporal_negative", "--no_tca"], ["--no_tca"], []])
def test_each_ablation_trains_and_its_checkpoint_evaluates(tiny_synthetic, tmp_path, ablation):
    assert vtdl_train.main(tiny_args(tiny_synthetic, tmp_path, "--epochs", "6", *ablation)) == 0
    last = tmp_path / "ss_saved_models" / "tiny" / "last.pt"
    checkpoint = torch.load(last, weights_only=True)
    history = [h["loss"] for h in checkpoint["training_state"]["history"]]
    # MoCo's loss first rises while real keys replace the random initial queue (2 steps here), then
    # falls: the last epochs' mean is below the early peak
    assert len(history) == 6 and sum(history[3:]) / 3 < max(history[:3])
    assert {"projection", "key_backbone", "key_head", "queue"} <= set(checkpoint["heads"])
    backbone, contract, _ = load_backbone(str(last))
    assert contract == InputContract(frames=8, stride=2, size=32, **IMAGENET)  # the release normalises so
    common = tiny_eval_args(tiny_synthetic, str(last))
    assert complete_retrieval.main(common + ["--out_dir", str(tmp_path / "ret"), "--picture_queries", "0"]) == 0
    assert linear_train.main(common + ["--linear", "--epochs", "3", "--out_dir", str(tmp_path / "lin")]) == 0
    assert json.load(open(tmp_path / "lin" / "results.json"))["method"] == "vtdl"


def test_two_processes_under_torchrun_complete(tiny_synthetic, tmp_path):
    run_torchrun_script(
        os.path.join("vtdl", "train.py"),
        tiny_args(tiny_synthetic, tmp_path, "--epochs", "1", "--batch_size", "4"),
        tmp_path,
    )
    checkpoint = torch.load(tmp_path / "ss_saved_models" / "tiny" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
