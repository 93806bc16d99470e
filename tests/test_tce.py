"""TCE: the frame pair, negative mining, the rotation head, stacks of differences, and the training script."""

import json
import math
import os

import av
import numpy as np
import torch

from finetune import train as finetune_train
from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tce import train as tce_train
from tce.dataset import TCESampleBuilder
from tce.hard_negatives import mine_negatives, mining_threshold
from tce.model import RotationHead
from tests.helpers import read_index, tiny_eval_args, tiny_run_args, write_index_video
from tsne import make_tsne
from videossl.eval.finetune import to_stack_of_differences
from videossl.losses.contrastive import nce_memory_bank_loss
from videossl.models.backbones import build_backbone
from videossl.video import open_video


def test_positive_is_the_next_frame_and_the_third_frame_the_rotated_anchor(tmp_path):
    path = str(tmp_path / "v.avi")
    write_index_video(path, 40, 64, 64)
    identity = lambda clip, rng: clip  # noqa: E731 - keeps the frame numbers readable
    builder = TCESampleBuilder(64, frame_gap=1, flip=identity, colour=identity)
    with open_video(path) as reader:
        for seed in range(8):
            sample = builder(reader, np.random.default_rng(seed))
            clips = sample["clips"]  # [3, C, 1, H, W]
            anchor, positive = (read_index(clips[k, :, 0].permute(1, 2, 0).numpy()) for k in range(2))
            assert positive == anchor + 1  # the next frame, never the same one
            assert torch.equal(clips[2], torch.rot90(clips[0], sample["rotation"], dims=(-2, -1)))


def test_colour_runs_at_the_frames_own_size_then_a_nearest_neighbour_scale(tmp_path):
    # the release: flip, grey, jitter on the decoded frame, then Scale(224, Image.NEAREST)
    from PIL import Image

    path = str(tmp_path / "v.avi")
    write_index_video(path, 12, 48, 80)
    seen = []

    def colour(clip, rng):
        seen.append(tuple(clip.shape[-2:]))
        return clip

    builder = TCESampleBuilder(32, frame_gap=1, flip=lambda clip, rng: clip, colour=colour)
    with open_video(path) as reader:
        clips = builder(reader, np.random.default_rng(0))["clips"]
        frame = reader.get_frames([int(read_index(clips[0, :, 0].permute(1, 2, 0).numpy()))])[0]
    assert seen == [(48, 80)] * 3 and clips.shape[-2:] == (32, 32)
    pil = np.asarray(Image.fromarray(frame).resize((32, 32), Image.NEAREST))
    assert np.array_equal(clips[0, :, 0].permute(1, 2, 0).numpy(), pil)  # PIL's nearest, pixel for pixel


def test_mining_threshold_rises_from_minus_one_and_the_released_formula_stays_below_it():
    total = 1000
    assert mining_threshold(0, total) == -1.0
    assert abs(mining_threshold(500, total) - (1 - 2 * math.exp(-2.5))) < 1e-12  # 0.8358
    assert abs(mining_threshold(1000, total) - (1 - 2 * math.exp(-5))) < 1e-12  # 0.9865
    rising = [mining_threshold(s, total) for s in range(0, total + 1, 50)]
    assert rising == sorted(rising)
    # pretrain.py's exp(+tr s / total): below -1 from the first step on, so every entry is masked
    assert all(mining_threshold(s, total, "release") < -1 for s in range(1, total + 1, 50))


def unit_vectors_with_cosines(cosines):
    """Rows in 2D whose cosine with (1, 0) is each given value."""
    c = torch.tensor(cosines, dtype=torch.float32)
    return torch.stack([c, torch.sqrt(1 - c**2)], dim=1)


def test_mining_takes_the_hardest_entries_below_the_threshold_never_the_own_slot():
    anchor = torch.tensor([[1.0, 0.0]])
    #                                     0     1    2    3    4    5     6     7
    bank = unit_vectors_with_cosines([0.99, 0.95, 0.7, 0.5, 0.3, -0.2, -0.5, 0.75])
    own = torch.tensor([7])  # the anchor's own slot is below the threshold, yet never a negative
    g = torch.Generator().manual_seed(0)
    mined = mine_negatives(anchor, bank, own, 3, threshold=0.8, generator=g)
    assert mined.tolist() == [[2, 3, 4]]  # the most similar below 0.8, hardest first
    # fewer qualify than asked for: all of them first, then uniform draws from the rest
    mined = mine_negatives(anchor, bank, own, 6, threshold=0.4, generator=g)
    assert mined[0, :3].tolist() == [4, 5, 6]  # the three below 0.4
    assert set(mined[0, 3:].tolist()) <= {0, 1, 2, 3}  # neither the own slot nor a hard one again
    # the released threshold masks everything: random negatives, never the own slot
    many = mine_negatives(
        anchor.repeat(200, 1), bank, own.repeat(200), 5, mining_threshold(1, 10, "release"), generator=g
    )
    assert 7 not in many.unique().tolist() and len(many.unique()) == 7


def test_release_mode_scores_the_reshaped_bank_as_the_release_does():
    # NCEAverage.py:122 multiplies by memory_bank.view(feat_dim, -1): column j mixes pieces of
    # several entries. With everything below the threshold, the top scores follow that reshape.
    g = torch.Generator().manual_seed(1)
    bank = torch.nn.functional.normalize(torch.randn(6, 3, generator=g), dim=1)
    anchor = torch.nn.functional.normalize(torch.randn(1, 3, generator=g), dim=1)
    own = torch.tensor([5])
    reshaped = (anchor @ bank.reshape(3, -1))[0]
    reshaped[5] = -float("inf")
    transposed = (anchor @ bank.T)[0]
    transposed[5] = -float("inf")
    assert reshaped.argsort(descending=True)[:3].tolist() != transposed.argsort(descending=True)[:3].tolist()
    release = mine_negatives(anchor, bank, own, 3, threshold=10.0, release_reshape=True)
    mined = mine_negatives(anchor, bank, own, 3, threshold=10.0)
    assert release[0].tolist() == reshaped.argsort(descending=True)[:3].tolist()
    assert mined[0].tolist() == transposed.argsort(descending=True)[:3].tolist()


def test_nce_memory_bank_loss_equals_the_cmc_formula_by_hand():
    g = torch.Generator().manual_seed(0)
    anchor = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    negatives = torch.nn.functional.normalize(anchor[:, None] + 0.8 * torch.randn(8, 50, 16, generator=g), dim=2)
    loss, z = nce_memory_bank_loss(anchor, anchor, negatives, 0.07, num_data=100)
    p_pos = torch.exp(torch.ones(8) / 0.07) / z
    p_neg = torch.exp(torch.einsum("nd,nkd->nk", anchor, negatives) / 0.07) / z
    noise = 50 / 100
    expected = -(torch.log(p_pos / (p_pos + noise)) + torch.log(noise / (p_neg + noise)).sum(1)).mean()
    assert torch.allclose(loss, expected, rtol=1e-5)


def test_rotation_head_has_the_released_layers_and_order():
    head = RotationHead(512)
    assert [n for n, _ in head.named_parameters()] == [
        "fc_rotation_1.weight",
        "fc_rotation_1.bias",
        "bn_rotation_1.weight",
        "bn_rotation_1.bias",
        "fc_rotation_2.weight",
        "fc_rotation_2.bias",
        "bn_rotation_2.weight",
        "bn_rotation_2.bias",
        "fc_rotation_3.weight",
        "fc_rotation_3.bias",
    ]
    assert head.fc_rotation_1.out_features == 200 and head.fc_rotation_3.out_features == 4
    head.eval()
    x = torch.randn(5, 512)
    by_hand = head.bn_rotation_1(torch.relu(head.fc_rotation_1(x)))  # ReLU before BN, as released
    by_hand = head.fc_rotation_3(head.bn_rotation_2(torch.relu(head.fc_rotation_2(by_hand))))
    assert torch.allclose(head(x), by_hand)


def test_stack_of_differences_feeds_15_hand_computed_channels_and_tiles_the_rgb_kernel():
    torch.manual_seed(0)
    rgb = build_backbone("resnet18", width=0.125)
    stacked = to_stack_of_differences(rgb, 6)
    seen = {}
    stacked.conv1.register_forward_hook(lambda m, args, out: seen.update(input=args[0], output=out))
    x = torch.randn(2, 3, 6, 32, 32)
    stacked(x)
    expected = torch.cat([x[:, :, t] - x[:, :, t + 1] for t in range(5)], dim=1)  # earlier minus later
    assert seen["input"].shape == (2, 15, 32, 32) and torch.allclose(seen["input"], expected)
    # constant difference d between consecutive frames: 5 stacked copies of d through the tiled
    # kernel equal the RGB kernel applied to 5 d
    d = torch.randn(2, 3, 1, 32, 32)
    ramp = torch.cat([-t * d for t in range(6)], dim=2)  # frame t = -t d, so frame t - frame t+1 = d
    stacked(ramp)
    assert torch.allclose(seen["output"], rgb.conv1(5 * d[:, :, 0]), rtol=1e-4, atol=1e-4)


def tiny_args(tiny_synthetic, out_dir, *extra):
    return tiny_run_args(
        tiny_synthetic, out_dir, {"arch": "resnet18", "bank_negatives": 4, "batch_size": 3, "lr": 0.03}, *extra
    )


def test_a_tiny_run_trains_and_every_evaluation_reads_its_checkpoint(tiny_synthetic, tmp_path):
    # On 6 videos with 4 negatives CMC's NCE (Z fixed at the first batch, when the bank is still
    # random) rises while the bank fills with real embeddings, so the loss is not a learning check
    # here; the run must train every negative mode and leave finite losses and every head.
    for mode in ("random", "release"):
        assert tce_train.main(tiny_args(tiny_synthetic, tmp_path / mode, "--epochs", "1", "--negatives", mode)) == 0
    assert tce_train.main(tiny_args(tiny_synthetic, tmp_path, "--epochs", "4")) == 0  # mined
    last = tmp_path / "ss_saved_models" / "tiny" / "last.pt"
    checkpoint = torch.load(last, weights_only=True)
    history = checkpoint["training_state"]["history"]
    assert len(history) == 4 and all(math.isfinite(h["loss"]) for h in history)
    assert "fc_rotation_3.weight" in checkpoint["heads"]["rotation"]
    assert {"nce", "rotation"} <= set(history[0]) and float(checkpoint["heads"]["memory"]["normalizer"]) > 0
    common = tiny_eval_args(tiny_synthetic, str(last))
    assert linear_train.main(common + ["--linear", "--epochs", "3", "--out_dir", str(tmp_path / "lin")]) == 0
    assert complete_retrieval.main(common + ["--out_dir", str(tmp_path / "ret"), "--picture_queries", "0"]) == 0
    assert (
        finetune_train.main(
            common
            + [
                "--recipe",
                "tce",
                "--epochs",
                "1",
                "--batch_size",
                "3",
                "--precision",
                "fp32",
                "--out_dir",
                str(tmp_path / "ft"),
            ]
        )
        == 0
    )
    assert json.load(open(tmp_path / "ft" / "results.json"))["aggregate"] == "logit_sum"
    video = str(tmp_path / "v.avi")
    write_index_video(video, 15, 32, 32)
    out = str(tmp_path / "tsne" / "v.mp4")
    assert make_tsne.main(["--vid", "--input", video, "--output", out, "--saved_model", str(last)]) == 0
    with av.open(out) as container:
        assert sum(1 for _ in container.decode(video=0)) == 15
    embeddings = np.load(str(tmp_path / "tsne" / "v_embeddings.npy"))
    assert embeddings.shape == (15, 128)  # every frame, in TCE's 128-d embedding space, L2-normalised
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    tsne_results = json.load(open(tmp_path / "tsne" / "results.json"))
    assert tsne_results["space"] == "embedding" and tsne_results["pca_variance"] == 0.85
    assert os.path.getsize(tmp_path / "tsne" / "v.png") > 1000
