"""The weighted kNN classifier against a hand-worked case, and the online monitor in a pretraining run."""

import math

import torch

from tclr_pretraining import train_gen_all_step as tclr_train
from videossl.eval.knn import weighted_knn
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
                "--num_workers",
                "0",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    history = read_checkpoint_file(str(tmp_path / "ss_saved_models" / "knn" / "last.pt"))["training_state"]["history"]
    # due after epoch 2 and after the last one (3), not after epoch 1
    assert ["knn_top1" in h for h in history] == [False, True, True]
    assert all(0 <= h["knn_top1"] <= 100 and h["knn_seconds"] > 0 for h in history[1:])
    # its cost, as scripts/bench/bench_knn_monitor.py reports it
    from scripts.bench import bench_knn_monitor

    capsys.readouterr()
    assert bench_knn_monitor.main([str(tmp_path)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ss_saved_models/knn |")][0]
    assert row.split("|")[2:4] == [" 3 ", " 2 "]  # 3 epochs, 2 kNN runs
