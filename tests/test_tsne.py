"""t-SNE tools: sliding clips, the projection, PNGs and the trajectory MP4."""

import json
import os

import av
import numpy as np
import pytest

from tests.helpers import read_index, write_index_video
from tests.test_evaluation import tiny_checkpoint
from tsne import make_tsne, make_tsne_from_embedding
from videossl.cli import run_cli
from videossl.errors import UserError
from videossl.eval.tsne import sliding_clip_indices, tsne_2d


@pytest.mark.parametrize("num_frames,frames,stride,step", [(20, 8, 2, 1), (20, 1, 1, 3), (5, 16, 2, 2), (33, 4, 3, 4)])
def test_sliding_clips_are_centred_and_never_leave_the_video(num_frames, frames, stride, step):
    positions, indices = sliding_clip_indices(num_frames, frames, stride, step)
    assert positions.tolist() == list(range(0, num_frames, step))
    assert indices.shape == (len(positions), frames)
    assert indices.min() >= 0 and indices.max() < num_frames
    half = (frames - 1) * stride // 2
    for p, clip in zip(positions, indices):
        if half <= p < num_frames - ((frames - 1) * stride - half):  # the clip fits: exactly centred
            assert clip.tolist() == [p - half + stride * t for t in range(frames)]
        assert np.all(np.diff(clip) >= 0)  # clamped at the ends, still in time order


def test_tsne_keeps_separated_groups_apart_and_refuses_too_few_points():
    g = np.random.default_rng(0)
    x = np.concatenate([g.normal(0, 0.1, (10, 20)), g.normal(5, 0.1, (10, 20))])
    points, kl = tsne_2d(x, seed=0)
    assert points.shape == (20, 2) and np.isfinite(kl)
    a, b = points[:10], points[10:]
    within = max(np.ptp(a, axis=0).max(), np.ptp(b, axis=0).max())
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > within  # the two clusters stay apart
    with pytest.raises(UserError, match="at least 5"):
        tsne_2d(x[:4])
    with pytest.raises(UserError, match="NaN"):
        tsne_2d(np.full((6, 3), np.nan))


def test_tces_release_pca_search_can_stop_below_the_threshold():
    from videossl.eval.tsne import components_for_variance

    ratios = np.full(100, 0.01)  # each component explains 1%
    assert components_for_variance(ratios, 0.85) == 85
    # the release's bisection: 50, 75, 87, 81, 84 dimensions, then the bounds are within 5%: it keeps 84
    assert components_for_variance(ratios, 0.85, "release") == 84


@pytest.mark.parametrize("pca_variance", [None, 0.85])
def test_identical_embeddings_are_drawn_at_one_point_not_a_crash(pca_variance, capsys):
    # a collapsed model: PCA's explained-variance ratios were NaN and scikit-learn's t-SNE ended the
    # process with a segmentation fault
    points, kl = tsne_2d(np.tile(np.linspace(-1, 1, 128), (6, 1)), pca_variance=pca_variance)
    assert points.shape == (6, 2) and not points.any() and kl == 0.0
    assert "all 6 embeddings are the same point" in capsys.readouterr().err


def decoded_frames(path):
    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize("name", ["r3d_18", "resnet18"])
def test_vid_writes_one_output_frame_per_input_frame_showing_that_frame(tmp_path, name, capsys):
    video = str(tmp_path / "index.avi")
    write_index_video(video, 24, 64, 64)
    checkpoint = tiny_checkpoint(tmp_path, name)
    out = str(tmp_path / "out" / "trajectory.mp4")
    assert (
        make_tsne.main(
            ["--vid", "--input", video, "--output", out, "--saved_model", checkpoint, "--video_height", "128"]
        )
        == 0
    )
    frames = decoded_frames(out)
    assert len(frames) == 24
    assert frames[0].shape == (128, 256, 3)  # the video (128 x 128) beside the 128 x 128 trajectory panel
    assert [read_index(f[:, :128]) for f in frames] == list(range(24))  # frame t shows input frame t
    assert os.path.getsize(tmp_path / "out" / "trajectory.png") > 1000
    embeddings = np.load(tmp_path / "out" / "trajectory_embeddings.npy")
    assert embeddings.shape[0] == 24  # one embedding per frame (step 1)
    results = json.load(open(tmp_path / "out" / "results.json"))
    assert results["metrics"]["points"] == 24 and results["backbone"] == name


def test_several_inputs_tce_aliases_and_random_2d_baseline(tmp_path):
    videos = []
    for k in range(2):
        videos.append(str(tmp_path / f"v{k}.avi"))
        write_index_video(videos[-1], 12, 32, 32)
    out = str(tmp_path / "two.png")
    # TCE's flags: --ckpt and --model (here a random-init ResNet-18, single frames)
    assert (
        make_tsne.main(
            [
                "--input",
                *videos,
                "--output",
                out,
                "--ckpt",
                "random",
                "--model",
                "resnet18",
                "--width",
                "0.125",
                "--step",
                "2",
            ]
        )
        == 0
    )
    assert os.path.getsize(out) > 1000
    assert np.load(str(tmp_path / "two_embeddings.npy")).shape[0] == 12  # 6 per video
    results = json.load(open(tmp_path / "results.json"))
    assert results["contract"]["frames"] == 1 and results["contract"]["size"] == 224


def test_dataset_mode_plots_one_point_per_test_video(tiny_synthetic, tmp_path):
    root, split_dir = tiny_synthetic
    checkpoint = tiny_checkpoint(tmp_path)
    out = str(tmp_path / "dataset.png")
    assert (
        make_tsne.main(
            [
                "--saved_model",
                checkpoint,
                "--data_root",
                root,
                "--split_dir",
                split_dir,
                "--output",
                out,
                "--num_clips",
                "2",
                "--num_workers",
                "0",
            ]
        )
        == 0
    )
    results = json.load(open(tmp_path / "results.json"))
    assert results["subset"] == "test" and results["metrics"]["points"] == 6  # 3 classes x 2 test videos
    assert os.path.getsize(out) > 1000


def test_bad_tsne_inputs_are_one_clear_line(tmp_path, capsys):
    checkpoint = tiny_checkpoint(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(
            make_tsne.main,
            [
                "--vid",
                "--input",
                str(tmp_path / "none.avi"),
                "--output",
                str(tmp_path / "o.mp4"),
                "--saved_model",
                checkpoint,
            ],
        )
    assert exit_info.value.code == 2 and "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli(
            make_tsne.main,
            ["--vid", "--input", "x.avi", "--output", str(tmp_path / "o.png"), "--saved_model", checkpoint],
        )
    assert "give --output a .mp4 name" in capsys.readouterr().err


def test_tsne_from_embedding(tmp_path, capsys):
    g = np.random.default_rng(0)
    np.save(tmp_path / "e.npy", g.normal(size=(30, 8)))
    np.save(tmp_path / "labels.npy", np.repeat(np.arange(3), 10))
    assert (
        make_tsne_from_embedding.main(
            [
                "--embeddings",
                str(tmp_path / "e.npy"),
                "--labels",
                str(tmp_path / "labels.npy"),
                "--names",
                "a,b,c",
                "--output",
                str(tmp_path / "e.png"),
            ]
        )
        == 0
    )
    assert os.path.getsize(tmp_path / "e.png") > 1000
    np.save(tmp_path / "short.npy", np.arange(5))
    with pytest.raises(SystemExit) as exit_info:
        run_cli(
            make_tsne_from_embedding.main,
            [
                "--embeddings",
                str(tmp_path / "e.npy"),
                "--labels",
                str(tmp_path / "short.npy"),
                "--output",
                str(tmp_path / "x.png"),
            ],
        )
    assert exit_info.value.code == 2 and "5 entries for 30 embeddings" in capsys.readouterr().err


def test_pca_to_a_variance_fraction_keeps_the_fewest_components_that_explain_it():
    from videossl.eval.tsne import components_for_variance, tsne_2d

    ratios = np.array([0.6, 0.25, 0.1, 0.05])
    assert components_for_variance(ratios, 0.85) == 2  # 0.6 + 0.25 reaches 0.85 exactly
    assert components_for_variance(ratios, 0.86) == 3
    assert components_for_variance(ratios, 0.5) == 1
    x = np.random.default_rng(0).standard_normal((60, 6)) * np.sqrt([100, 10, 1, 0.1, 0.01, 0.001])
    points, _ = tsne_2d(x, pca_variance=0.85)  # one component would do: t-SNE still gets two
    assert points.shape == (60, 2) and np.isfinite(points).all()
