"""The demo and the method x evaluation matrix, end to end at tiny scale."""

import json
import os

import av
import pytest

from scripts import demo


def test_tiny_demo_pretrains_evaluates_and_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--scale", "tiny", "--out_dir", str(out), "--data_dir", str(tmp_path / "data"),
                      "--num_workers", "0"]) == 0
    printed = capsys.readouterr().out
    matrix = json.load(open(out / "matrix.json"))
    names = [name for name, _ in matrix["rows"]]
    assert names[0].startswith("random init") and names[1] == "tclr"
    for _, metrics in matrix["rows"]:
        for column in ("linear top-1", "R@1 tclr", "R@5 tclr", "R@1 pooled", "R@1 coclr"):
            assert 0 <= metrics[column] <= 100
        assert metrics["R@5 tclr"] >= metrics["R@1 tclr"]
    tclr = matrix["rows"][1][1]
    assert tclr["s/epoch"] > 0 and tclr["clips/s"] > 0
    for picture in ("loss_curves.png", "tsne_dataset/tsne_test_videos.png", "tclr/eval/retrieval_tclr/retrieval.png"):
        assert os.path.getsize(out / picture) > 1000, picture
    with av.open(str(out / "tsne_video" / "trajectory.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 24  # one per frame of the 24-frame video
    report = (out / "report.md").read_text()
    assert "| tclr |" in report and "![" in report
    assert "| tclr |" in printed and str(out / "report.md") in printed
    # a second run reuses the finished pretraining instead of training again
    assert demo.main(["--scale", "tiny", "--out_dir", str(out), "--data_dir", str(tmp_path / "data"),
                      "--num_workers", "0"]) == 0
    assert "reusing the finished pretraining" in capsys.readouterr().out


def test_matrix_runs_two_methods_with_a_seed_and_refuses_unknown_methods(tmp_path, capsys):
    from scripts import run_matrix
    from videossl.cli import run_cli
    # two methods: the second one's pretraining once received the first one's history as --epochs
    assert run_matrix.main(["--methods", "cvrl,tce", "--scale", "tiny", "--out_dir", str(tmp_path), "--seed", "3",
                            "--data_dir", str(tmp_path / "data"), "--num_workers", "0"]) == 0
    folder = tmp_path / "tiny_seed3"
    rows = dict((name, metrics) for name, metrics in json.load(open(folder / "matrix.json"))["rows"])
    assert rows["random init (cvrl's backbone and input)"]["linear top-1"] >= 0
    assert 0 <= rows["cvrl"]["R@1 tclr"] <= 100 and rows["cvrl"]["s/epoch"] > 0 and rows["tce"]["s/epoch"] > 0
    assert "| cvrl |" in (folder / "matrix.md").read_text() and "| tce |" in (folder / "matrix.md").read_text()
    for method in ("cvrl", "tce"):
        config = json.load(open(folder / method / "ss_saved_models" / "tiny" / "run_config.json"))
        # the seed, the demo preset (the synthetic set's no-flip setting) and the tiny scale's epochs
        assert (config["seed"], config["preset"], config["flip_prob"], config["epochs"]) == (3, "demo", 0, 2)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(run_matrix.main, ["--methods", "cvrl,simclr"])
    assert exit_info.value.code == 2 and "unknown method(s) simclr" in capsys.readouterr().err


def test_prepare_dataset_unpacks_ucf101_into_the_expected_layout(tmp_path):
    import filecmp
    import zipfile

    from scripts import prepare_dataset

    archive = tmp_path / "UCF101.zip"  # the official file is a .rar with the same tree
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("UCF101/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", b"video bytes")
        z.writestr("UCF101/UCF-101/Archery/v_Archery_g01_c01.avi", b"video bytes")
    out = tmp_path / "UCF101"
    assert prepare_dataset.main(["--dataset", "ucf101", "--archive", str(archive), "--out", str(out)]) == 0
    assert (out / "UCF-101" / "Archery" / "v_Archery_g01_c01.avi").read_bytes() == b"video bytes"
    shipped = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "splits", "ucf101")
    assert filecmp.cmp(out / "ucfTrainTestlist" / "trainlist01.txt", os.path.join(shipped, "trainlist01.txt"),
                       shallow=False)
    assert not (out / ".unpacking").exists()
