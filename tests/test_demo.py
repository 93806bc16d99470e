"""The demo and the method x evaluation matrix, end to end at tiny scale."""

import json
import os

import av
import pytest

from scripts import demo
from videossl.errors import UserError


def test_tiny_demo_pretrains_evaluates_and_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        demo.main(
            ["--scale", "tiny", "--out_dir", str(out), "--data_dir", str(tmp_path / "data"), "--num_workers", "0"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    summary = json.load(open(out / "matrix.json"))["summary"]
    assert [row["name"] for row in summary] == ["random init (tclr's backbone and input)", "tclr"]
    for row in summary:
        for axis in ("motion", "appearance"):  # both label axes, every metric in range
            stats = row["axes"][axis]
            assert all(0 <= stats[m]["mean"] <= 100 for m in ("linear top-1", "R@1 tclr", "R@5 tclr", "R@1 pooled"))
            assert stats["R@5 tclr"]["mean"] >= stats["R@1 tclr"]["mean"]
    assert "gain R@1 tclr" in summary[1]["axes"]["appearance"] and summary[1]["s/epoch"] > 0
    for picture in (
        "loss_curves.png",
        "knn_curves.png",
        "matrix.png",
        "tsne_dataset/tsne_test_videos.png",
        "tclr/eval/motion/retrieval_tclr/retrieval.png",
    ):
        assert os.path.getsize(out / picture) > 1000, picture
    with av.open(str(out / "tsne_video" / "trajectory.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 24  # one per frame of the 24-frame video
    report = (out / "report.md").read_text()
    assert "## appearance axis" in report and "kNN monitor took" in report and "![" in report
    assert "| tclr |" in printed and str(out / "report.md") in printed
    # a second run reuses the finished pretraining instead of training again
    assert (
        demo.main(
            ["--scale", "tiny", "--out_dir", str(out), "--data_dir", str(tmp_path / "data"), "--num_workers", "0"]
        )
        == 0
    )
    assert "reusing the finished pretraining" in capsys.readouterr().out


def test_the_default_matrix_invocation_gives_every_row_on_both_axes(tmp_path, capsys):
    # README: python scripts/run_matrix.py --scale tiny (all four methods, one seed); the multi-method run once
    # crashed (the second method's pretraining received the first one's history as --epochs)
    from scripts import run_matrix

    assert (
        run_matrix.main(
            ["--scale", "tiny", "--out_dir", str(tmp_path), "--data_dir", str(tmp_path / "data"), "--num_workers", "0"]
        )
        == 0
    )
    folder = tmp_path / "tiny"
    summary = {row["name"]: row for row in json.load(open(folder / "matrix.json"))["summary"]}
    expected = [
        name
        for method in run_matrix.METHODS
        for name in [run_matrix.random_row_name(method)] + [v[0] for v in run_matrix.variants(method)]
    ]
    assert list(summary) == expected  # 4 random-init rows, tclr, cvrl, 3 vtdl rows, tce
    for name, row in summary.items():
        for axis in run_matrix.AXES:
            assert 0 <= row["axes"][axis]["R@1 tclr"]["mean"] <= 100, (name, axis)
            assert ("gain linear top-1" in row["axes"][axis]) != row["random"]
    table = (folder / "matrix.md").read_text()
    assert "1 seed (0)" in table and all(f"| {name} |" in table for name in expected)
    assert os.path.getsize(folder / "matrix.png") > 1000
    for method in run_matrix.METHODS:
        config = json.load(open(folder / "seed0" / method / "ss_saved_models" / "tiny" / "run_config.json"))
        # the demo preset (the synthetic set's no-flip setting, its kNN monitor) and the tiny scale's epochs
        assert (config["seed"], config["preset"], config["flip_prob"], config["epochs"]) == (0, "demo", 0, 2)
        assert config["knn_every"] > 0


def test_seeds_are_summarised_with_their_spread_and_paired_gains():
    from scripts.run_matrix import summarise

    def row(name, method, random, seed, linear, r1):
        metrics = {"linear top-1": linear, "R@1 tclr": r1, "R@5 tclr": 90.0, "R@1 pooled": r1}
        return {
            "name": name,
            "method": method,
            "random": random,
            "seed": seed,
            "axes": {"motion": metrics, "appearance": metrics},
            "s/epoch": None if random else 2.0,
        }

    runs = [
        {"rows": [row("random", "tclr", True, s, lin0, r0), row("tclr", "tclr", False, s, lin1, r1)]}
        for s, lin0, r0, lin1, r1 in [
            (0, 50.0, 40.0, 70.0, 60.0),
            (1, 60.0, 45.0, 65.0, 70.0),
            (2, 55.0, 50.0, 75.0, 56.0),
        ]
    ]
    tclr = summarise(runs)[1]["axes"]["motion"]
    assert tclr["linear top-1"]["mean"] == 70.0 and tclr["linear top-1"]["worst"] == 65.0
    assert tclr["linear top-1"]["std"] == 5.0  # sample standard deviation of 70, 65, 75
    # paired: 20, 5, 20 (not the difference of the means alone)
    assert tclr["gain linear top-1"]["values"] == [20.0, 5.0, 20.0] and tclr["gain linear top-1"]["worst"] == 5.0
    assert tclr["gain R@1 tclr"]["values"] == [20.0, 25.0, 6.0]


def test_unknown_methods_and_bad_seeds_are_one_line(capsys):
    from scripts import run_matrix
    from videossl.cli import run_cli

    for argv, message in (
        (["--methods", "cvrl,simclr"], "unknown method(s) simclr"),
        (["--seeds", "0,one"], "--seeds takes comma-separated integers"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(run_matrix.main, argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


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
    assert filecmp.cmp(
        out / "ucfTrainTestlist" / "trainlist01.txt", os.path.join(shipped, "trainlist01.txt"), shallow=False
    )
    assert not (out / ".unpacking").exists()


def test_paste_result_tables_are_pasted_between_their_markers(tmp_path):
    from scripts import paste_result_tables

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "m.md").write_text("# Matrix (demo scale, 3 seeds (0, 1, 2))\n\n## motion axis\n\n| a |\n")
    readme = "intro\n<!-- table: results/m.md -->\nold table\n<!-- end table -->\nafter\n"
    text, used = paste_result_tables.update(readme, root=str(tmp_path))
    assert used == ["results/m.md"]
    assert text == (
        "intro\n<!-- table: results/m.md -->\nMatrix (demo scale, 3 seeds (0, 1, 2))\n\n**motion axis**\n\n"
        "| a |\n<!-- end table -->\nafter\n"
    )
    assert paste_result_tables.update(text, root=str(tmp_path))[0] == text  # running it again changes nothing
    with pytest.raises(UserError, match="not found; run the command"):
        paste_result_tables.update(readme.replace("m.md", "missing.md"), root=str(tmp_path))


def test_paste_result_tables_rewrites_the_given_document(tmp_path, capsys):
    # python scripts/paste_result_tables.py --doc FILE, with a block naming a file of this repository
    from scripts import paste_result_tables

    readme = tmp_path / "README.md"
    readme.write_text("top\n<!-- table: docs/recipes.md -->\nstale\n<!-- end table -->\n")
    assert paste_result_tables.main(["--doc", str(readme)]) == 0
    text = readme.read_text()
    assert "stale" not in text and text.startswith("top\n<!-- table: docs/recipes.md -->\n")
    assert "1 table block(s) from docs/recipes.md" in capsys.readouterr().out
    readme.write_text("no blocks\n")
    with pytest.raises(UserError, match="no '<!-- table: PATH -->' block"):
        paste_result_tables.main(["--doc", str(readme)])
