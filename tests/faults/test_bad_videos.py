"""Bad videos mixed into a dataset: every method's pretraining and every evaluation runs over them,
names the unreadable ones with their count, and neither crashes nor hangs."""

import json
import os
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cvrl import train as cvrl_train
from finetune import train as finetune_train
from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tce import train as tce_train
from tclr_pretraining import train_gen_all_step as tclr_train
from tests.faults.conftest import BAD_KINDS, UNREADABLE, unreadable_names
from tests.helpers import tiny_run_args
from tsne import make_tsne
from videossl.data import dataset as dataset_module
from videossl.data.dataset import SkippedVideos, VideoClipDataset, collate_samples
from videossl.data.indexes import build_index
from videossl.data.probe_cache import ProbeCache, cache_folder_for, verify_frame_counts
from videossl.data.sampling import sample_random_clip
from videossl.video import open_video
from vtdl import train as vtdl_train


def faulty_index(faulty_dataset, subset):
    root, split_dir, _ = faulty_dataset
    return verify_frame_counts(build_index("ucf101", root, split_dir, 1, subset), workers=0, progress=False)


def by_kind(index, paths):
    stems = {os.path.splitext(p)[0]: kind for kind, p in paths.items()}
    return {stems[os.path.splitext(r.path)[0]]: r for r in index.records if os.path.splitext(r.path)[0] in stems}


def test_the_probe_flags_exactly_the_unreadable_videos_and_reads_the_odd_ones_right(faulty_dataset):
    index = faulty_index(faulty_dataset, "train")
    records = by_kind(index, faulty_dataset[2]["train"])
    assert set(records) == set(BAD_KINDS)
    assert sorted(k for k, r in records.items() if r.error) == UNREADABLE
    assert "frame" in records["frame_folder_with_gap"].error  # a frame dump with a hole is refused, not shifted
    assert all(not r.error for r in index.records if r not in records.values())  # the good videos stay good
    header = records["header_overreports"].info
    assert (header.header_frames, header.num_frames) == (30, 24)  # the decoded count wins over the header
    assert records["three_frames"].num_frames == 3
    assert 10 <= records["truncated"].num_frames < 60  # the frames before the cut are kept
    for kind, shape in (("grayscale", (32, 32)), ("odd_size", (239, 321)), ("portrait", (48, 32))):
        with open_video(records[kind].path, info=records[kind].info) as reader:
            frames = reader.get_frames([0, 1])
        assert frames.shape == (2, *shape, 3) and frames.dtype == np.uint8, kind
    with open_video(records["grayscale"].path, info=records["grayscale"].info) as reader:
        grey = reader.get_frames([0])[0].astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 2  # grey stays grey through the RGB conversion


def pretraining_args(faulty_dataset, out_dir, batch_size):
    root, split_dir, _ = faulty_dataset
    flags = {"run_id": "faults", "batch_size": batch_size, "epochs": 1}
    return tiny_run_args((root, split_dir), str(out_dir), flags)


METHOD_ARGS = {
    "tclr": (tclr_train, ["--frames", "8", "--num_local", "2", "--min_video_frames", "0"]),
    "cvrl": (cvrl_train, ["--arch", "r3d_18", "--frames", "4", "--head_hidden", "32", "--warmup_epochs", "0"]),
    "vtdl": (vtdl_train, ["--arch", "r3d_18", "--frames", "4", "--stride", "2", "--queue_size", "8"]),
    "tce": (tce_train, ["--arch", "resnet18", "--bank_negatives", "4"]),
}


@pytest.mark.parametrize("method", sorted(METHOD_ARGS))
def test_every_pretraining_runs_an_epoch_over_bad_videos_and_names_the_skipped_ones(
    faulty_dataset, tmp_path, method, capsys
):
    train_size = len(faulty_index(faulty_dataset, "train"))
    capsys.readouterr()
    script, extra = METHOD_ARGS[method]
    # one batch holds every video, so each bad one is drawn exactly once
    assert script.main(pretraining_args(faulty_dataset, tmp_path, train_size) + extra) == 0
    out, err = capsys.readouterr()
    names = unreadable_names(faulty_dataset[2]["train"])
    warning = next(line for line in err.splitlines() if "cannot be read" in line)
    assert f"{len(UNREADABLE)} of {train_size}" in warning  # the count, up front
    report = next(line for line in out.splitlines() if "unreadable videos skipped" in line)
    assert f"epoch 1: {len(UNREADABLE)} unreadable videos skipped" in report
    assert all(name in report for name in names), report
    checkpoint = torch.load(tmp_path / "ss_saved_models" / "faults" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in checkpoint["backbone"]["state_dict"].values() if v.is_floating_point())


def eval_args(faulty_dataset, checkpoint, out_dir, *extra):
    root, split_dir, _ = faulty_dataset
    return [
        "--saved_model",
        checkpoint,
        "--data_root",
        root,
        "--split_dir",
        split_dir,
        "--num_workers",
        "0",
        "--num_clips",
        "2",
        "--out_dir",
        str(out_dir),
        *extra,
    ]


EVALUATIONS = {
    "linear probe (cached features)": (linear_train, ["--linear", "--epochs", "3"]),
    "linear probe (paper protocol)": (
        linear_train,
        ["--linear", "--protocol", "paper", "--epochs", "1", "--batch_size", "4", "--precision", "fp32"],
    ),
    "retrieval": (complete_retrieval, ["--picture_queries", "2"]),
    "finetune": (finetune_train, ["--epochs", "1", "--batch_size", "4", "--precision", "fp32"]),
    "t-SNE of the test videos": (make_tsne, ["--perplexity", "5"]),
}


@pytest.mark.parametrize("tool", sorted(EVALUATIONS))
def test_every_evaluation_runs_over_bad_videos_and_names_the_ones_left_out(
    faulty_dataset, tiny_checkpoint, tmp_path, tool, capsys
):
    module, extra = EVALUATIONS[tool]
    out_dir = tmp_path / "out"
    if module is make_tsne:
        extra = extra + ["--output", str(out_dir / "tsne.png")]
    assert module.main(eval_args(faulty_dataset, tiny_checkpoint, out_dir, *extra)) == 0
    out, err = capsys.readouterr()
    lines = (out + err).splitlines()
    test_names = unreadable_names(faulty_dataset[2]["test"])
    left_out = [line for line in lines if "left out of the evaluation" in line and "unreadable test videos" in line]
    assert left_out, "\n".join(lines[-20:])
    assert f"{len(UNREADABLE)} unreadable test videos" in left_out[0]
    assert all(name in left_out[0] for name in test_names), left_out[0]
    recorded = json.load(open(out_dir / "results.json"))["unreadable"]  # every tool lists what it left out
    assert sorted(os.path.splitext(os.path.basename(p))[0] for p in recorded["test"]) == test_names


class SlowReader:
    """Wraps a reader; decoding one chosen video never finishes (in Python, as a stuck decoder loop would)."""

    def __init__(self, reader):
        self.reader = reader

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reader.close()

    def __getattr__(self, name):
        return getattr(self.reader, name)

    def get_frames(self, indices):
        while True:
            time.sleep(0.01)


def random_clip(reader, rng):
    return {"clip": torch.as_tensor(reader.get_frames(sample_random_clip(reader.num_frames, rng, 4, 1)))}


@pytest.mark.parametrize("workers", [0, 2])
def test_a_decode_that_hangs_is_cut_off_skipped_and_named(faulty_dataset, monkeypatch, caplog, workers):
    index = faulty_index(faulty_dataset, "train")
    slow = by_kind(index, faulty_dataset[2]["train"])["portrait"].path

    def opener(path, *args, **kwargs):
        reader = open_video(path, *args, **kwargs)
        return SlowReader(reader) if path == slow else reader

    monkeypatch.setattr(dataset_module, "open_video", opener)
    index.decode_timeout = 0.5
    dataset = VideoClipDataset(index, random_clip, seed=0)
    skipped = SkippedVideos(index)
    started = time.perf_counter()
    # in worker processes too (where real runs decode): the alarm is per process
    for batch in DataLoader(dataset, batch_size=1, collate_fn=collate_samples, num_workers=workers):
        skipped.update(batch["skipped"])
    assert time.perf_counter() - started < 30  # the hung video cost its time limit, not forever
    messages = []
    assert skipped.report(1, messages.append) == len(UNREADABLE) + 1
    assert os.path.basename(slow) in messages[0]
    if not workers:  # worker processes log to their own stderr
        assert any("longer than 0.5 s" in record.getMessage() for record in caplog.records)


def test_a_file_whose_open_blocks_forever_times_out_in_the_probe_and_is_not_cached_as_bad(tmp_path):
    root = tmp_path / "videos"
    (root / "cls").mkdir(parents=True)
    os.mkfifo(root / "cls" / "v_blocked.avi")  # opening a FIFO with no writer blocks, as on a hung mount
    from videossl.data.indexes import folder_index

    index = folder_index(str(root))
    index.decode_timeout = 1.0
    started = time.perf_counter()
    verify_frame_counts(index, workers=0, progress=False)
    assert time.perf_counter() - started < 20
    assert "longer than 1 s" in index.records[0].error
    # a time-out says nothing about the file: the next run tries again instead of trusting a cached verdict
    assert ProbeCache(cache_folder_for(index.root)).lookup(index.records[0].path) is None
