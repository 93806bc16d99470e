"""Shared evaluation: retrieval and linear-probe arithmetic, feature extraction, the command lines."""

import json
import os

import numpy as np
import pytest
import torch
import torchvision

from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tests.helpers import read_index, tiny_eval_args, write_index_video
from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.eval.features import ClipView, EvaluationClipBuilder
from videossl.eval.linear_probe import accuracies, predict_videos, train_linear_probe
from videossl.eval.retrieval import recall_at_k, retrieval
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import make_checkpoint, save_checkpoint
from videossl.video import open_video
from videossl.video.writer import write_video


def test_recall_at_k_on_hand_built_features():
    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071], [-1.0, 0.0]])
    gallery_labels = torch.tensor([0, 1, 2, 0])
    query = torch.tensor([[0.9, 0.1], [0.1, 0.9], [-1.0, 0.0], [0.0, -1.0]])
    query_labels = torch.tensor([0, 2, 0, 5])  # class 5 is absent from the gallery: never a hit
    query = torch.nn.functional.normalize(query, dim=1)
    recall, neighbours = recall_at_k(query, query_labels, gallery, gallery_labels, ks=(1, 2, 4))
    # q0 -> g0 (hit at 1); q1 -> g1 (class 1), then g2 (class 2: hit at 2); q2 -> g3 (hit at 1);
    # q3 ties between g0 and g3 (similarity 0): g0 first; never a hit
    assert neighbours[:, 0].tolist() == [0, 1, 3, 0] and neighbours[1, 1].item() == 2
    assert recall == {1: 50.0, 2: 75.0, 4: 75.0}


def test_ties_are_broken_by_gallery_order():
    gallery = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    _, neighbours = recall_at_k(
        torch.tensor([[1.0, 0.0]]), torch.tensor([1]), gallery, torch.tensor([0, 1, 1]), ks=(1,)
    )
    assert neighbours[0].tolist() == [0]  # the first of three equal candidates: a miss at k = 1


def test_protocols_pool_or_flatten_time_and_coclr_centres():
    maps = torch.zeros(2, 3, 2, 2)  # [videos, clips, D, T']
    maps[0, :, 0, 0], maps[1, :, 0, 1] = 1, 1  # same pooled feature, different time layout
    labels = torch.tensor([0, 1])
    tclr, _ = retrieval(maps, labels, maps, labels, "tclr", ks=(1,))
    assert tclr[1] == 100.0  # flattened maps tell the two apart
    # pooled features are equal, so each query's first neighbour is the first video: one hit of two
    assert retrieval(maps, labels, maps, labels, "pooled", ks=(1,))[0][1] == 50.0


def test_linear_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=g) * 5
    labels = torch.arange(4).repeat_interleave(10)
    maps = (centres[labels][:, None, :, None] + torch.randn(40, 3, 16, 2, generator=g)).to(torch.float16)
    layer, mean, std = train_linear_probe(maps, labels, 4, epochs=30)
    probabilities = predict_videos(layer, mean, std, maps)
    assert accuracies(probabilities, labels, 4) == {"top1": 100.0, "top5": 100.0, "mean_class": 100.0}


def test_mean_per_class_accuracy_differs_from_top1_on_imbalanced_classes():
    probabilities = torch.tensor([[0.9, 0.1]] * 3 + [[0.9, 0.1]])  # always class 0
    result = accuracies(probabilities, torch.tensor([0, 0, 0, 1]), 2)
    assert result["top1"] == 75.0 and result["mean_class"] == 50.0


def test_every_video_gets_k_clips_times_crops_in_time_order(tmp_path):
    wide = str(tmp_path / "wide.avi")
    write_index_video(wide, 40, 64, 96)
    with open_video(wide) as reader:
        clips = EvaluationClipBuilder(InputContract(frames=4, stride=3, size=48), ClipView(num_clips=5, crops=3))(
            reader, None
        )["clips"]
    assert clips.shape == (15, 3, 4, 48, 48) and clips.dtype == torch.uint8
    assert not torch.equal(clips[0], clips[2])  # start and end of the long side

    square = str(tmp_path / "square.avi")  # resized to 48x48: every crop is the whole (readable) frame
    write_index_video(square, 100, 64, 64)
    with open_video(square) as reader:
        clips = EvaluationClipBuilder(InputContract(frames=4, stride=3, size=48), ClipView(num_clips=5, crops=1))(
            reader, None
        )["clips"]
    starts = []
    for clip in clips:
        frames = [read_index(clip[:, t].permute(1, 2, 0).numpy()) for t in range(4)]
        assert frames == [frames[0] + 3 * t for t in range(4)]
        starts.append(frames[0])
    assert starts == [0, 22, 45, 68, 90]  # evenly spaced over 0 .. 90 (numpy rounds halves to even)


def tiny_checkpoint(tmp_path, name="r3d_18", channel_order="rgb", **kwargs):
    torch.manual_seed(0)
    backbone = build_backbone(name, width=0.125, **kwargs)
    contract = InputContract(frames=8, stride=2, size=32, channel_order=channel_order)
    return save_checkpoint(make_checkpoint("tclr", backbone, contract), str(tmp_path / f"{name}.pt"))


def eval_args(tiny_synthetic, out_dir, checkpoint, *extra):
    return [*tiny_eval_args(tiny_synthetic, checkpoint, num_clips=3), "--out_dir", str(out_dir), *extra]


@pytest.mark.parametrize("name", ["r3d_18", "resnet18"])
def test_retrieval_and_linear_probe_run_end_to_end(tiny_synthetic, tmp_path, name, capsys):
    checkpoint = tiny_checkpoint(tmp_path, name)
    retrieval_args = eval_args(tiny_synthetic, tmp_path / "ret", checkpoint, "--protocol", "pooled")
    assert complete_retrieval.main(retrieval_args) == 0
    results = json.load(open(tmp_path / "ret" / "results.json"))
    assert set(results["metrics"]) == {"R@1", "R@5", "R@10", "R@20", "R@50"} and results["backbone"] == name
    assert os.path.getsize(tmp_path / "ret" / "retrieval.png") > 1000
    out = capsys.readouterr().out
    assert "test features" in out and "(extracted)" in out and "(cache)" not in out and "R@1" in out
    # the second tool reuses the features the first one cached (the same clips: the pooled protocol's)
    assert linear_train.main(eval_args(tiny_synthetic, tmp_path / "lin", checkpoint, "--linear", "--epochs", "5")) == 0
    out = capsys.readouterr().out
    assert "train features" in out and "(cache)" in out and "(extracted)" not in out
    assert 0 <= json.load(open(tmp_path / "lin" / "results.json"))["metrics"]["top1"] <= 100


def test_the_appearance_axis_reuses_the_cached_features(tiny_synthetic, tmp_path, capsys):
    from videossl.data.synthetic import APPEARANCE_LABELS

    checkpoint = tiny_checkpoint(tmp_path)
    linear = ("--linear", "--epochs", "2")
    assert linear_train.main(eval_args(tiny_synthetic, tmp_path / "motion", checkpoint, *linear)) == 0
    capsys.readouterr()
    labels = os.path.join(tiny_synthetic[1], APPEARANCE_LABELS)
    args = eval_args(tiny_synthetic, tmp_path / "appearance", checkpoint, *linear, "--labels", labels)
    assert linear_train.main(args) == 0
    out = capsys.readouterr().out
    assert "(cache)" in out and "(extracted)" not in out  # the same videos, the same features
    with open(labels) as f:
        kinds = {line.split()[1] for line in f.read().splitlines()}
    results = json.load(open(tmp_path / "appearance" / "results.json"))
    assert results["classes"] == len(kinds) != 3


def test_bad_inputs_are_one_clear_line(tiny_synthetic, tmp_path, capsys):
    from videossl.cli import run_cli

    with pytest.raises(SystemExit) as exit_info:
        run_cli(complete_retrieval.main, eval_args(tiny_synthetic, tmp_path, str(tmp_path / "missing.pt")))
    assert exit_info.value.code == 2 and "checkpoint not found" in capsys.readouterr().err
    checkpoint = torch.load(tiny_checkpoint(tmp_path), weights_only=True)
    checkpoint["backbone"]["name"] = "r2plus1d_18"  # weights of another architecture
    save_checkpoint(checkpoint, str(tmp_path / "wrong.pt"))
    with pytest.raises(SystemExit):
        run_cli(complete_retrieval.main, eval_args(tiny_synthetic, tmp_path, str(tmp_path / "wrong.pt")))
    assert "does not match its architecture" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # asking for another architecture than the checkpoint holds
        run_cli(
            complete_retrieval.main,
            eval_args(tiny_synthetic, tmp_path, tiny_checkpoint(tmp_path), "--arch", "r2plus1d_18"),
        )
    assert "holds a r3d_18 backbone, not --arch r2plus1d_18" in capsys.readouterr().err


class RecordingBackbone(torch.nn.Module):
    """Stands for a backbone: remembers the input it was fed."""

    def __init__(self):
        super().__init__()
        self.inputs = []
        self.dim = 3

    def forward(self, x):
        self.inputs.append(x.clone())
        return x.mean(dim=(3, 4), keepdim=True)[:, :, :2]


def test_bgr_checkpoints_are_fed_bgr(tiny_synthetic):
    from videossl.data.indexes import build_index
    from videossl.eval.features import extract_features

    root, split_dir = tiny_synthetic
    index = build_index("ucf101", root, split_dir, 1, "test")
    fed = {}
    for order in ("rgb", "bgr"):
        backbone = RecordingBackbone()
        contract = InputContract(frames=4, stride=1, size=32, channel_order=order)
        extract_features(backbone, contract, index, f"recording-{order}", ClipView(2), batch_size=4, progress=False)
        fed[order] = torch.cat(backbone.inputs)
    assert torch.equal(fed["bgr"], fed["rgb"].flip(1)) and not torch.equal(fed["bgr"], fed["rgb"])


def official_release(kind, tmp_path, monkeypatch):
    """(--saved_model value, method the results name) of a faithful release file (tests/test_releases.py)."""
    from tests import test_releases as releases

    if kind == "tclr":
        return releases.tclr_release(tmp_path)[1], "tclr-official"
    if kind == "vtdl":
        return releases.vtdl_pretraining_file(tmp_path, releases.ReleaseR3D(), "r3d"), "vtdl-official"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    url = torchvision.models.video.R2Plus1D_18_Weights.KINETICS400_V1.url
    os.makedirs(tmp_path / "hub" / "checkpoints")
    cached = tmp_path / "hub" / "checkpoints" / os.path.basename(url)  # as a past download left it
    torch.save(torchvision.models.video.r2plus1d_18().state_dict(), cached)
    return "torchvision:r2plus1d_18", "torchvision-supervised"


@pytest.mark.parametrize("kind, tool", [("tclr", "retrieval"), ("vtdl", "linear"), ("torchvision", "retrieval")])
def test_official_releases_evaluate_from_saved_model_alone(tiny_synthetic, tmp_path, monkeypatch, kind, tool):
    saved_model, method = official_release(kind, tmp_path, monkeypatch)
    if tool == "retrieval":
        args = eval_args(tiny_synthetic, tmp_path / "out", saved_model, "--picture_queries", "0", "--num_clips", "1")
        assert complete_retrieval.main(args) == 0
    else:
        args = eval_args(tiny_synthetic, tmp_path / "out", saved_model, "--linear", "--epochs", "2", "--num_clips", "1")
        assert linear_train.main(args) == 0
    results = json.load(open(tmp_path / "out" / "results.json"))
    assert results["method"] == method
    expected = {"tclr": ("bgr", 112), "vtdl": ("rgb", 224), "torchvision": ("rgb", 112)}[kind]
    assert (results["contract"]["channel_order"], results["contract"]["size"]) == expected


def test_an_unreadable_video_is_left_out_of_the_evaluation_and_named(tmp_path):
    from tests.helpers import write_bad_videos
    from videossl.data.indexes import list_index
    from videossl.data.probe_cache import verify_frame_counts
    from videossl.eval.features import extract_features

    write_index_video(str(tmp_path / "good0.avi"), 30, 32, 32)
    write_index_video(str(tmp_path / "good1.avi"), 30, 32, 32)
    bad = write_bad_videos(str(tmp_path / "bad"))
    lines = ["good0.avi 0", "good1.avi 1", f"{os.path.relpath(bad['zero_byte'], tmp_path)} 1"]
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    index = verify_frame_counts(list_index(str(tmp_path / "list.txt"), str(tmp_path)), progress=False)
    messages = []
    features = extract_features(
        RecordingBackbone(),
        InputContract(frames=4, size=32),
        index,
        "recording",
        ClipView(num_clips=2),
        progress=False,
        log=messages.append,
    )
    assert features["labels"].tolist() == [0, 1] and len(features["maps"]) == 2  # never replaced by another video
    assert features["unreadable"] == [bad["zero_byte"]] and "v_zero_byte.avi" in messages[0]


def test_a_rewritten_video_is_a_new_cache_key(tmp_path):
    # The same paths and frame counts with other pictures (a regenerated synthetic set) must not
    # reuse the features of the old videos.
    from videossl.data.indexes import list_index
    from videossl.data.probe_cache import verify_frame_counts
    from videossl.eval.features import cache_key

    def key():
        index = verify_frame_counts(list_index(str(tmp_path / "list.txt"), str(tmp_path)), progress=False)
        return cache_key("random", index, InputContract(frames=4, size=32), ClipView(2, 1), "fp32")

    write_index_video(str(tmp_path / "a.avi"), 30, 32, 32)
    (tmp_path / "list.txt").write_text("a.avi 0\n")
    first = key()
    assert key() == first
    write_video(str(tmp_path / "a.avi"), np.zeros((30, 32, 32, 3), np.uint8))
    assert key() != first


def test_features_too_large_for_float16_are_kept_in_float32_and_nan_is_an_error():
    # a degenerate checkpoint's features (about 7e13 here) turned into inf in the float16 cache, and
    # every score was chance without a word
    from videossl.eval.features import compact

    small = torch.randn(2, 3, 4)
    assert compact(small).dtype == torch.float16
    large = small * 7e13
    kept = compact(large)
    assert kept.dtype == torch.float32 and torch.equal(kept, large)
    with pytest.raises(UserError, match="features are NaN or infinite"):
        compact(torch.tensor([1.0, float("nan")]))


def test_compiled_feature_extraction_gives_the_same_retrieval(tiny_synthetic, tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path)
    metrics = {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        args = eval_args(tiny_synthetic, tmp_path / name, checkpoint, "--protocol", "pooled", *extra)
        assert complete_retrieval.main([*args, "--feature_cache", str(tmp_path / f"cache_{name}")]) == 0
        metrics[name] = json.load(open(tmp_path / name / "results.json"))["metrics"]
    assert "compiling the backbone" in capsys.readouterr().out
    assert metrics["compiled"] == metrics["eager"]
