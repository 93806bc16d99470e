"""Finetuning and the paper-protocol linear probe: frozen parts stay frozen, the multi-view test,
the recipes, the command lines and their errors."""

import json
import re

import pytest
import torch
import torch.nn.functional as F

from finetune import train as finetune_train
from linear_eval import train as linear_train
from tests.helpers import make_tiny_synthetic, tiny_eval_args
from tests.test_evaluation import tiny_checkpoint
from videossl.cli import run_cli
from videossl.eval import finetune
from videossl.eval.classifier import VideoClassifier, predict_dataset
from videossl.eval.features import ClipView
from videossl.eval.finetune import to_stack_of_differences
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import read_checkpoint_file


def test_frozen_backbone_keeps_weights_and_bn_statistics_unless_asked():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 32, 32)
    for update in (False, True):
        model = VideoClassifier(build_backbone("r3d_18", width=0.125), 5, freeze_backbone=True, update_bn_stats=update)
        before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
        model.train()
        model.logits(x).sum().backward()
        assert all(p.grad is None for p in model.backbone.parameters()) and model.fc.weight.grad is not None
        after = model.backbone.state_dict()
        changed = [k for k in before if not torch.equal(before[k], after[k])]
        assert all("running" in k or "num_batches" in k for k in changed)
        assert bool(changed) == update  # BN statistics move only with update_bn_stats


def test_stack_of_differences_keeps_rgb_weights_tiled():
    torch.manual_seed(0)
    rgb = build_backbone("resnet18", width=0.125)
    stacked = to_stack_of_differences(rgb, 6)
    assert stacked.config["stack_of_differences"] == 6
    assert torch.equal(stacked.conv1.weight, rgb.conv1.weight.repeat(1, 5, 1, 1))
    assert torch.equal(stacked.layer4[0].conv1.weight, rgb.layer4[0].conv1.weight)
    assert stacked(torch.randn(2, 3, 6, 32, 32)).shape == (2, stacked.dim, 1, 1, 1)


class LabelEcho(torch.nn.Module):
    """Logits that make clip k of a video vote for class k mod 3 (known aggregation results)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def logits(self, x):
        n = x.shape[0]
        logits = torch.zeros(n, 3)
        logits[torch.arange(n), torch.arange(n) % 3] = 5.0
        self.calls += 1
        return logits


def test_multi_view_test_aggregates_every_view(tiny_synthetic):
    from videossl.data.indexes import build_index
    from videossl.data.input_contract import InputContract

    root, split_dir = tiny_synthetic
    index = build_index("ucf101", root, split_dir, 1, "test")
    contract = InputContract(frames=4, stride=1, size=32)
    for aggregate in ("softmax_mean", "logit_sum"):
        scores, labels, unreadable = predict_dataset(
            LabelEcho(), contract, index, ClipView(4, 3), batch_size=2, aggregate=aggregate, progress=False
        )
        assert scores.shape == (len(index), 3) and not unreadable
        # 12 views per video, in a batch of 2 videos = 24 views -> classes 0,1,2 get 4 views each per video
        if aggregate == "logit_sum":
            assert torch.allclose(scores, torch.full_like(scores, 20.0))
        else:
            assert torch.allclose(scores, torch.full_like(scores, 1 / 3), atol=1e-6)


def finetune_args(tiny_synthetic, out_dir, checkpoint, *extra):
    schedule = ["--epochs", "2", "--batch_size", "3", "--eval_every", "1"]
    return [*tiny_eval_args(tiny_synthetic, checkpoint), "--out_dir", str(out_dir), *schedule, *extra]


def test_finetune_end_to_end_saves_the_best_model_and_tests_it_again(tiny_synthetic, tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path)
    assert finetune_train.main(finetune_args(tiny_synthetic, tmp_path / "ft", checkpoint, "--lr", "0.01")) == 0
    results = json.load(open(tmp_path / "ft" / "results.json"))
    assert results["recipe"] == "tclr" and results["metrics"]["videos"] == 6 and results["mode"] == "finetune"
    best = str(tmp_path / "ft" / "checkpoints" / "best.pt")
    saved = read_checkpoint_file(best)
    assert saved["method"] == "finetune" and saved["heads"]["classifier"]["weight"].shape == (3, 64)
    original = read_checkpoint_file(checkpoint)["backbone"]["state_dict"]
    assert not torch.equal(saved["backbone"]["state_dict"]["stem.0.weight"], original["stem.0.weight"])  # trained
    # --test_only on the saved model gives back the accuracy it was saved with
    assert finetune_train.main(finetune_args(tiny_synthetic, tmp_path / "again", best, "--test_only")) == 0
    again = json.load(open(tmp_path / "again" / "results.json"))["metrics"]["top1"]
    assert again == pytest.approx(saved["training_state"]["best_accuracy"])
    # a dataset with fewer classes than the classifier: one clear line
    two_classes = make_tiny_synthetic(tmp_path / "two", classes=2)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(finetune_train.main, finetune_args(two_classes, tmp_path / "x", best, "--test_only"))
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2 and len(errors) == 1  # (the rest of stderr is progress bars)
    assert "classifier has 3 classes" in errors[0] and "has 2" in errors[0]


def test_linear_paper_protocol_trains_only_the_linear_layer(tiny_synthetic, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path)
    args = finetune_args(tiny_synthetic, tmp_path / "lin", checkpoint, "--linear", "--protocol", "paper")
    assert linear_train.main(args) == 0
    results = json.load(open(tmp_path / "lin" / "results.json"))
    assert results["mode"].startswith("linear probe") and results["recipe"] == "linear"
    saved = read_checkpoint_file(str(tmp_path / "lin" / "checkpoints" / "last.pt"))
    original = read_checkpoint_file(checkpoint)["backbone"]["state_dict"]
    assert all(torch.equal(saved["backbone"]["state_dict"][k], v) for k, v in original.items())  # BN stats too


def test_linear_eval_without_linear_finetunes_and_random_baseline_runs(tiny_synthetic, tmp_path):
    args = finetune_args(
        tiny_synthetic,
        tmp_path / "scratch",
        "random",
        "--arch",
        "r3d_18",
        "--width",
        "0.125",
        "--frames",
        "4",
        "--size",
        "32",
        "--epochs",
        "1",
    )
    assert linear_train.main(args) == 0
    results = json.load(open(tmp_path / "scratch" / "results.json"))
    assert results["mode"] == "finetune" and results["saved_model"] == "random"
    assert results["contract"]["frames"] == 4 and results["contract"]["size"] == 32


def test_tce_recipe_finetunes_a_2d_backbone_on_stacks_of_differences(tiny_synthetic, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path, "resnet18")
    args = finetune_args(tiny_synthetic, tmp_path / "tce", checkpoint, "--recipe", "tce", "--epochs", "1")
    assert finetune_train.main(args) == 0
    results = json.load(open(tmp_path / "tce" / "results.json"))
    assert results["aggregate"] == "logit_sum" and results["contract"]["frames"] == 6
    saved = read_checkpoint_file(str(tmp_path / "tce" / "checkpoints" / "last.pt"))
    assert saved["backbone"]["config"]["stack_of_differences"] == 6


def test_published_linear_protocols_resolve_to_the_releases_values():
    parser = finetune.build_parser("")
    cvrl = parser.parse_args(["--saved_model", "x", "--linear", "--recipe", "linear_cvrl"])
    recipe = finetune.resolve_recipe(cvrl)
    assert cvrl.lr == pytest.approx(32.0) and cvrl.batch_size == 1024 and cvrl.weight_decay == 0.0
    assert (cvrl.frames, cvrl.stride, cvrl.size, cvrl.test_size, cvrl.num_clips, cvrl.test_crops) == (
        32,
        2,
        224,
        256,
        10,
        3,
    )
    assert cvrl.normalize_features and recipe.warmup_epochs == 5 and recipe.train_crop == "resized"
    # the release's 32.0 is for a batch of 1024: a quarter of the batch, a quarter of the rate
    small = parser.parse_args(["--saved_model", "x", "--linear", "--recipe", "linear_cvrl", "--batch_size", "256"])
    finetune.resolve_recipe(small)
    assert small.lr == pytest.approx(8.0)
    tclr = parser.parse_args(["--saved_model", "x", "--linear", "--recipe", "linear_tclr"])
    recipe = finetune.resolve_recipe(tclr)
    assert (tclr.optimizer, tclr.lr, tclr.batch_size, tclr.num_clips) == ("adam", 1e-2, 32, 10)
    assert (recipe.schedule, recipe.patience, recipe.crop_fraction, recipe.clip_starts) == ("plateau", 3, 0.8, "tclr")
    assert tclr.update_bn_stats


def test_cvrl_linear_protocol_runs_with_its_crops_and_schedule(tiny_synthetic, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path)
    args = finetune_args(
        tiny_synthetic,
        tmp_path / "cvrl",
        checkpoint,
        "--linear",
        "--protocol",
        "paper",
        "--recipe",
        "linear_cvrl",
        "--batch_size",
        "3",
        "--frames",
        "4",
        "--size",
        "32",
        "--test_size",
        "40",
        "--num_clips",
        "2",
    )
    assert linear_train.main(args) == 0
    results = json.load(open(tmp_path / "cvrl" / "results.json"))
    assert results["recipe"] == "linear_cvrl" and results["crops"] == 3 and results["test_size"] == 40
    assert results["lr"] == pytest.approx(32.0 * 3 / 1024)


def test_tclr_linear_protocol_runs_with_its_clips_and_crop(tiny_synthetic, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path)
    args = finetune_args(
        tiny_synthetic,
        tmp_path / "tclr",
        checkpoint,
        "--linear",
        "--protocol",
        "paper",
        "--recipe",
        "linear_tclr",
        "--num_clips",
        "3",
    )
    assert linear_train.main(args) == 0
    results = json.load(open(tmp_path / "tclr" / "results.json"))
    assert results["recipe"] == "linear_tclr" and results["lr"] == pytest.approx(1e-2)
    assert (results["clip_starts"], results["crop_fraction"], results["metrics"]["videos"]) == ("tclr", 0.8, 6)


def test_tclr_linear_augmentation_erases_a_box_a_quarter_of_the_time():
    import numpy as np

    from videossl.eval.classifier import finetune_augmentation

    transform = finetune_augmentation(112, crop="tclr_linear")
    rng = np.random.default_rng(0)
    clip = torch.full((2, 3, 128, 160), 128, dtype=torch.uint8)  # [T, C, H, W], mid grey
    erased = 0
    for _ in range(800):
        out = transform(clip, rng)
        assert out.shape == (2, 3, 112, 112) and out.dtype == torch.uint8
        zeros = (out == 0).all(dim=(0, 1))  # a box zeroed in every frame and channel
        if zeros.any():
            rows, cols = zeros.any(dim=1).sum().item(), zeros.any(dim=0).sum().item()
            assert 9 <= rows <= 18 and 9 <= cols <= 18  # the release's 9-18 px box at 112 px
            erased += 1
    assert abs(erased / 800 - 0.25) < 0.05  # dl_linear.py: random_array[7] < 0.5 / 2


def test_vtdl_temporal_conv_head_is_the_releases_pool_and_convolution():
    from videossl.eval.classifier import TemporalConvHead

    torch.manual_seed(0)
    head = TemporalConvHead(dim=4, num_classes=3, steps=8).eval()
    assert head.conv.kernel_size == (7,) and head.conv.bias is None  # (7, 1, 1), no bias, at 64 frames
    maps = torch.randn(2, 4, 8)
    pooled = (maps[..., :-1] + maps[..., 1:]) / 2  # AvgPool3d((2, 7, 7), stride 1) of a 7 x 7 map
    # the release's Unit3Dpy: 'SAME' (3 zeros before and after in time), a (7, 1, 1) Conv3d, then
    # the mean over the 7 output steps
    padded = torch.cat([torch.zeros(2, 4, 3), pooled, torch.zeros(2, 4, 3)], dim=-1)
    steps = [torch.einsum("cdk,bdk->bc", head.conv.weight, padded[..., t : t + 7]) for t in range(7)]
    assert torch.allclose(head(maps), torch.stack(steps).mean(0), atol=1e-6)
    weight3d = head.conv.weight[..., None, None]  # the released [classes, 1024, 7, 1, 1] layout
    release = F.conv3d(F.pad(pooled[..., None, None], (0, 0, 0, 0, 3, 3)), weight3d).squeeze(-1).squeeze(-1)
    assert torch.allclose(head(maps), release.mean(2), atol=1e-6)


def test_vtdl_finetune_recipe_runs_with_its_head_and_one_middle_test_clip(tiny_synthetic, tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path)
    args = finetune_args(
        tiny_synthetic,
        tmp_path / "vtdl",
        checkpoint,
        "--recipe",
        "vtdl",
        "--frames",
        "16",
        "--size",
        "32",
        "--epochs",
        "1",
        "--num_clips",
        "1",
    )
    assert finetune_train.main(args) == 0
    banner = capsys.readouterr().out.split("\n")[0]  # the recipe line says which values the flags changed
    assert "overridden: --epochs 1, --batch_size 3, --frames 16)" in banner  # size: the checkpoint's, no recipe value
    results = json.load(open(tmp_path / "vtdl" / "results.json"))
    assert results["recipe"] == "vtdl" and results["clip_starts"] == "middle" and results["num_clips"] == 1
    saved = read_checkpoint_file(str(tmp_path / "vtdl" / "checkpoints" / "last.pt"))
    assert set(saved["heads"]["classifier"]) == {"conv.weight"}


def test_linear_tclr_tests_at_its_epochs_ends_below_its_lr_floor_and_reports_the_best(tiny_synthetic, tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path)
    base = [*tiny_eval_args(tiny_synthetic, checkpoint), "--batch_size", "3", "--linear", "--protocol", "paper"]
    base += ["--recipe", "linear_tclr"]

    def run(name, *extra):
        assert linear_train.main([*base, "--out_dir", str(tmp_path / name), *extra]) == 0
        tested = [line for line in capsys.readouterr().out.splitlines() if "test top-1" in line]
        return tested, json.load(open(tmp_path / name / "results.json"))

    # tested after the scheduled epoch 2 and after the last; only the scheduled test counts as the best
    tested, results = run("selected", "--epochs", "3", "--test_epochs", "2")
    assert [line.split(":")[0] for line in tested] == ["epoch 2/3", "epoch 3/3"]
    at_2 = float(re.search(r"test top-1 ([\d.]+)", tested[0]).group(1))
    assert results["reported"] == "best" and results["best"] == pytest.approx(at_2, abs=0.005)
    assert results["metrics"]["epoch"] == 3 and results["test_epochs"] == [2]
    # the recipe's own schedule: epochs 7 and 12-50; an lr below 1e-5 ends the run after that epoch, tested
    tested, results = run("floor", "--epochs", "5", "--lr", "5e-6")
    assert len(tested) == 1 and tested[0].startswith("epoch 1/5") and "the run ends here" in tested[0]
    assert results["metrics"]["epoch"] == 1 and results["best"] is None  # epoch 1 is not a scheduled test
    assert results["test_epochs"] == [7, *range(12, 51)]
    # --restart of the ended run trains nothing more: it tests the last model again
    tested, again = run("floor", "--epochs", "5", "--lr", "5e-6", "--restart")
    assert again["metrics"]["epoch"] == 1 and again["metrics"]["top1"] == pytest.approx(results["metrics"]["top1"])
