"""The dataset survives bad videos: skips them, counts them, never loops forever."""

import os
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from tests.helpers import write_bad_videos, write_index_video
from videossl.data.dataset import SkippedVideos, VideoClipDataset, collate_samples
from videossl.data.indexes import folder_index
from videossl.data.probe_cache import verify_frame_counts
from videossl.data.sampling import sample_random_clip
from videossl.data.transforms import Compose, RandomSquareCrop, ToFloat, clip_to_cthw, frames_to_clip
from videossl.errors import UserError, VideoReadError

ROOT = os.path.join(os.path.dirname(__file__), "..")


def random_clip_sample(reader, rng, frames=8):
    idx = sample_random_clip(reader.num_frames, rng, frames, 1)
    clip = Compose([RandomSquareCrop(24), ToFloat()])(frames_to_clip(reader.get_frames(idx)), rng)
    return {"clip": clip_to_cthw(clip)}


@pytest.fixture
def bad_dataset(tmp_path):
    """A class-per-folder dataset: 6 good videos, plus a zero-byte, a truncated, a text and a 5-frame video."""
    (tmp_path / "good").mkdir()
    for i in range(6):
        write_index_video(str(tmp_path / "good" / f"v_good_{i}.avi"), 40, 32, 32)
    write_bad_videos(str(tmp_path / "bad"))
    return tmp_path


def class_subset(root, class_name):
    """The verified index of one class folder of the dataset."""
    index = verify_frame_counts(folder_index(str(root)), progress=False)
    label = index.class_names.index(class_name)
    index.records = [r for r in index.records if r.label == label]
    return index


def test_bad_videos_are_skipped_and_counted(bad_dataset):
    index = verify_frame_counts(folder_index(str(bad_dataset)), progress=False)
    unreadable = sorted(os.path.basename(r.path) for r in index.records if r.error)
    assert unreadable == ["v_text.avi", "v_zero_byte.avi"]
    dataset = VideoClipDataset(index, random_clip_sample, seed=0)
    skipped = SkippedVideos(index)
    seen = 0
    for batch in DataLoader(dataset, batch_size=4, collate_fn=collate_samples, num_workers=2):
        assert batch["clip"].shape[1:] == (3, 8, 24, 24) and torch.isfinite(batch["clip"]).all()
        skipped.update(batch["skipped"])
        seen += len(batch["clip"])
    assert seen == len(index) == 10  # every index yields a sample, replacements included
    messages = []
    assert skipped.report(0, messages.append) == 2
    assert "v_text.avi" in messages[0] and "v_zero_byte.avi" in messages[0]


def test_short_and_truncated_videos_yield_clips(bad_dataset):
    index = class_subset(bad_dataset, "bad")
    by_name = {os.path.basename(r.path): i for i, r in enumerate(index.records)}
    dataset = VideoClipDataset(index, lambda reader, rng: random_clip_sample(reader, rng, frames=16))
    for name in ("v_five_frames.avi", "v_truncated.avi"):
        sample = dataset[by_name[name]]
        assert sample["index"] == by_name[name] and sample["skipped"] == []  # padded, not dropped
        assert sample["clip"].shape == (3, 16, 24, 24)


def test_a_dataset_with_nothing_readable_is_refused_up_front(bad_dataset):
    index = class_subset(bad_dataset, "bad")
    index.records = [r for r in index.records if r.error]  # nothing readable left
    with pytest.raises(UserError, match="none of the 2 videos"):
        VideoClipDataset(index, random_clip_sample)


def test_retries_are_bounded_when_videos_fail_after_the_probe(bad_dataset):
    index = class_subset(bad_dataset, "good")
    dataset = VideoClipDataset(index, random_clip_sample, max_retries=5)
    for record in index.records:  # readable when probed, gone when read
        os.remove(record.path)
    with pytest.raises(VideoReadError, match="6 videos in a row"):
        dataset[0]


def test_samples_do_not_depend_on_workers(bad_dataset):
    index = class_subset(bad_dataset, "good")
    dataset = VideoClipDataset(index, random_clip_sample, seed=3)
    dataset.set_epoch(2)

    def all_clips(workers):
        loader = DataLoader(dataset, batch_size=2, collate_fn=collate_samples, num_workers=workers)
        return torch.cat([b["clip"] for b in loader])

    epoch2 = all_clips(0)
    assert torch.equal(epoch2, all_clips(2))
    dataset.set_epoch(3)
    assert not torch.equal(epoch2, all_clips(0))  # a new epoch draws new clips


def test_check_dataset_lists_exactly_the_problems(bad_dataset, tmp_path):
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "scripts/check_dataset.py",
            "--dataset",
            "folder",
            "--data_root",
            str(bad_dataset),
            "--json",
            str(report),
            "--workers",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    import json

    subsets = json.loads(report.read_text())["subsets"][0]
    names = lambda kind: sorted(os.path.basename(i["path"]) for i in subsets[kind])  # noqa: E731
    assert names("unreadable") == ["v_text.avi", "v_zero_byte.avi"]
    assert names("truncated") == ["v_truncated.avi"]
    assert names("short") == ["v_five_frames.avi"]
    assert subsets["missing"] == [] and subsets["videos"] == 10
    assert "4 problems found" in result.stdout


def test_check_dataset_passes_a_clean_dataset(tiny_synthetic):
    video_root, split_dir = tiny_synthetic
    result = subprocess.run(
        [
            sys.executable,
            "scripts/check_dataset.py",
            "--data_root",
            video_root,
            "--split_dir",
            split_dir,
            "--min_frames",
            "16",
            "--workers",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout


def test_check_dataset_bad_split_is_one_line(tiny_synthetic):
    video_root, split_dir = tiny_synthetic
    result = subprocess.run(
        [
            sys.executable,
            "scripts/check_dataset.py",
            "--data_root",
            video_root,
            "--split_dir",
            split_dir,
            "--split",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: argument --split: invalid choice: 4 (choose from 1, 2, 3)")
