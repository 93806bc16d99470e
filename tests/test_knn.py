"""The weighted kNN classifier against a hand-worked case, and the online monitor in a pretraining run."""

import dataclasses
import json
import math
import os

import torch

from tclr_pretraining import train_gen_all_step as tclr_train
from videossl.eval.knn import weighted_knn
from videossl.eval.retrieval import nearest_neighbours
from videossl.models.checkpoint import read_checkpoint_file


def test_weighted_knn_by_hand():
    # gallery on the unit circle: class 0 at 0 and 60 degrees, class 1 at 90 and 180 degrees
    angles = torch.tensor([0.0, 60.0, 90.0, 180.0]) * math.pi / 180
    train = torch.stack([angles.cos(), angles.sin()], 1)
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[math.cos(math.radians(80)), math.sin(math.radians(80))]]) * 5  # length does not matter
    # k = 3 neighbours: 90 (cos 10 = 0.985, class 1), 60 (cos 20 = 0.940, class 0), 0 (cos 80 = 0.174, class 0)
    # T = 0.07: class 1 gets e^14.07, class 0 e^13.43 + e^2.48: class 1 wins
    assert weighted_knn(train, labels, query, 2, k=3, temperature=0.07).tolist() == [1]
    # T = 1: class 1 e^0.985 = 2.68 < class 0 e^0.940 + e^0.174 = 2.56 + 1.19 = 3.75: the two votes win
    assert weighted_knn(train, labels, query, 2, k=3, temperature=1.0).tolist() == [0]
    # k = 1 is the nearest neighbour, whatever the temperature
    assert weighted_knn(train, labels, query, 2, k=1, temperature=1.0).tolist() == [1]


def test_chunks_bounded_by_the_similarity_budget_give_the_whole_matrix_s_answers():
    """Queries in chunks of one (budget 40 < 2 x 23 training videos) against the whole matrix at once,
    and against a naive loop that breaks ties by gallery order; features are rounded so that ties occur."""
    g = torch.Generator().manual_seed(0)
    train = torch.randn(23, 4, generator=g).round()
    labels = torch.randint(0, 3, (23,), generator=g)
    test = torch.randn(9, 4, generator=g).round()
    whole = weighted_knn(train, labels, test, 3, k=5, budget=10**9)
    assert torch.equal(weighted_knn(train, labels, test, 3, k=5, budget=40), whole)
    neighbours = nearest_neighbours(test, train, 6, budget=40)
    assert torch.equal(neighbours, nearest_neighbours(test, train, 6, budget=10**9))
    for q, row in zip(test, neighbours):
        sims = (train @ q).tolist()
        naive = sorted(range(len(train)), key=lambda i: (-sims[i], i))[:6]
        assert row.tolist() == naive


def test_the_monitor_logs_knn_top1_into_the_history(tiny_synthetic, tmp_path, capsys):
    root, split_dir = tiny_synthetic
    assert (
        tclr_train.main(
            [
                "--preset",
                "demo",
                "--run_id",
                "knn",
                "--out_dir",
                str(tmp_path),
                "--data_root",
                root,
                "--split_dir",
                split_dir,
                "--epochs",
                "3",
                "--batch_size",
                "2",
                "--knn_every",
                "2",
                "--knn_subset",
                "3",
                "--num_workers",
                "0",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    history = read_checkpoint_file(str(tmp_path / "ss_saved_models" / "knn" / "last.pt"))["training_state"]["history"]
    # on a fixed subset of 3 videos per split, one of each class, stored beside the checkpoints
    stored = json.load(open(tmp_path / "ss_saved_models" / "knn" / "knn_subset.json"))
    assert [len(stored[s]) for s in ("train", "test")] == [3, 3]
    assert len({os.path.basename(os.path.dirname(p)) for p in stored["train"]}) == 3
    # due after epoch 2 and after the last one (3), not after epoch 1
    assert ["knn_top1" in h for h in history] == [False, True, True]
    assert all(0 <= h["knn_top1"] <= 100 and h["knn_seconds"] > 0 for h in history[1:])
    # its cost, as scripts/bench/bench_knn_monitor.py reports it
    from scripts.bench import bench_knn_monitor

    capsys.readouterr()
    assert bench_knn_monitor.main([str(tmp_path)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ss_saved_models/knn |")][0]
    assert row.split("|")[2:4] == [" 3 ", " 2 "]  # 3 epochs, 2 kNN runs


def test_the_monitors_subset_is_class_balanced_fixed_and_stored(tiny_synthetic, tmp_path):
    from videossl.data.indexes import build_index
    from videossl.eval.knn import balanced_subset, fixed_subsets

    root, split_dir = tiny_synthetic
    index = build_index("ucf101", root, split_dir, 1, "train")  # 3 classes
    subset = balanced_subset(index, 5, seed=0)
    counts = sorted(sum(r.label == c for r in subset.records) for c in range(3))
    assert len(subset) == 5 and counts[-1] - counts[0] <= 1 and counts[0] >= 1
    shuffled = dataclasses.replace(index, records=list(reversed(index.records)))
    assert {r.path for r in balanced_subset(shuffled, 5, seed=0).records} == {r.path for r in subset.records}
    assert balanced_subset(index, 0, seed=0) is index and balanced_subset(index, 100, seed=0) is index
    # stored with the run, and read back on a restart (whatever the seed then)
    stored = str(tmp_path / "knn_subset.json")
    first = fixed_subsets({"train": index}, 4, 0, stored)
    again = fixed_subsets({"train": index}, 4, 99, stored)
    assert [r.path for r in again["train"].records] == [r.path for r in first["train"].records]
    assert json.load(open(stored))["train"] == [r.path for r in first["train"].records]
