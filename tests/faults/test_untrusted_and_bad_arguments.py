"""Untrusted checkpoints are refused by every tool without running them; bad arguments end with
one line naming the problem and a non-zero exit, never a traceback."""

import json
import os

import pytest
import torch

from cvrl import train as cvrl_train
from finetune import train as finetune_train
from linear_eval import train as linear_train
from nn_retrieval import complete_retrieval
from tce import train as tce_train
from tclr_pretraining import train_gen_all_step as tclr_train
from tsne import make_tsne
from videossl.cli import run_cli
from videossl.models.checkpoint import save_checkpoint
from vtdl import train as vtdl_train


class CodeOnLoad:
    """Unpickling this runs code: it writes the marker file (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('the payload ran')",)


def malicious_checkpoint(path, marker):
    torch.save({"format": "videossl-checkpoint", "format_version": 1, "payload": CodeOnLoad(str(marker))}, str(path))
    return str(path)


def cli(main, argv, capsys, with_stdout=False):
    """(exit code, stderr (after stdout if ``with_stdout``)) of a command-line entry point run as
    its script would run it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, (out + err if with_stdout else err)


def data_args(tiny_synthetic):
    root, split_dir = tiny_synthetic
    return ["--data_root", root, "--split_dir", split_dir, "--num_workers", "0"]


EVALUATION_TOOLS = {
    "linear_eval": (linear_train, ["--linear"]),
    "finetune": (finetune_train, ["--epochs", "1"]),
    "nn_retrieval": (complete_retrieval, []),
    "make_tsne": (make_tsne, ["--output", "OUT/tsne.png"]),
}


@pytest.mark.parametrize("tool", sorted(EVALUATION_TOOLS))
def test_every_evaluation_tool_refuses_a_checkpoint_that_would_run_code(tiny_synthetic, tmp_path, tool, capsys):
    marker = tmp_path / "pwned"
    path = malicious_checkpoint(tmp_path / "shared.pt", marker)
    main, extra = EVALUATION_TOOLS[tool]
    extra = [a.replace("OUT", str(tmp_path)) for a in extra]
    argv = ["--saved_model", path, *data_args(tiny_synthetic), "--out_dir", str(tmp_path / "out"), *extra]
    code, err = cli(main.main, argv, capsys)
    assert code == 2 and "refused" in err and "--trust_checkpoint" in err and "Traceback" not in err
    assert not marker.exists()  # the payload did not run


@pytest.mark.parametrize("script", [tclr_train, cvrl_train, vtdl_train, tce_train], ids=["tclr", "cvrl", "vtdl", "tce"])
def test_a_restart_never_unpickles_a_planted_checkpoint(tiny_synthetic, tmp_path, script, capsys):
    marker = tmp_path / "pwned"
    folder = tmp_path / "ss_saved_models" / "run"
    folder.mkdir(parents=True)
    malicious_checkpoint(folder / "last.pt", marker)
    argv = ["--run_id", "run", "--out_dir", str(tmp_path), *data_args(tiny_synthetic), "--restart", "--batch_size", "2"]
    argv += ["--min_video_frames", "0"] if script is tclr_train else []  # the tiny videos have 20 frames
    code, output = cli(script.main, argv, capsys, with_stdout=True)
    assert code == 2 and "no complete checkpoint" in output.strip().splitlines()[-1]
    assert "skipping" in output and "refused" in output  # the planted file was seen and refused
    assert not marker.exists()


def test_trust_checkpoint_is_the_only_way_past_and_says_so(tiny_synthetic, tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = malicious_checkpoint(tmp_path / "shared.pt", marker)
    code, err = cli(
        complete_retrieval.main, ["--saved_model", path, *data_args(tiny_synthetic), "--trust_checkpoint"], capsys
    )
    assert marker.exists()  # with the flag the file is fully unpickled: its code ran, as the warning said it could
    assert "can run code from the file; loading it because --trust_checkpoint was given" in err
    assert code == 2 and "Traceback" not in err  # and it is still no usable checkpoint: one line


@pytest.fixture(scope="module")
def wrong_architecture(tmp_path_factory):
    """A checkpoint that says r2plus1d_18 but holds r3d_18 weights."""
    from videossl.data.input_contract import InputContract
    from videossl.models.backbones import build_backbone
    from videossl.models.checkpoint import make_checkpoint

    checkpoint = make_checkpoint(
        "tclr", build_backbone("r3d_18", width=0.125), InputContract(frames=8, stride=1, size=32)
    )
    checkpoint["backbone"]["name"] = "r2plus1d_18"
    path = str(tmp_path_factory.mktemp("wrong") / "wrong.pt")
    save_checkpoint(checkpoint, path)
    return path


def tiny_pretraining(*extra):
    return ["--width", "0.125", "--size", "32", "--precision", "fp32", "--epochs", "1", *extra]


BAD_ARGUMENTS = [
    # (name, entry point, arguments (DATA = the tiny dataset's flags), the problem the one line names)
    (
        "missing checkpoint",
        linear_train,
        ["--saved_model", "/nonexistent/model.pt", "DATA", "--linear"],
        "checkpoint not found: /nonexistent/model.pt",
    ),
    (
        "missing data root",
        complete_retrieval,
        ["--saved_model", "TINY", "--data_root", "/nonexistent/videos", "--split_dir", "SPLITS"],
        "--data_root '/nonexistent/videos' is not a folder",
    ),
    (
        "missing video for t-SNE",
        make_tsne,
        ["--saved_model", "TINY", "--input", "/nonexistent/v.avi", "--output", "OUT/t.png"],
        "--input /nonexistent/v.avi: no such file",
    ),
    (
        "split 4 (evaluation)",
        finetune_train,
        ["--saved_model", "random", "--arch", "r3d_18", "DATA", "--split", "4"],
        "split",
    ),
    ("split 0 (pretraining)", tclr_train, ["--run_id", "x", "--out_dir", "OUT", "DATA", "--split", "0"], "split"),
    (
        "a data root without the layout",
        tclr_train,
        ["--run_id", "x", "--out_dir", "OUT", "--data_root", "EMPTY", "--split_dir", "SPLITS"],
        "are missing under",
    ),
    (
        "checkpoint of another architecture",
        complete_retrieval,
        ["--saved_model", "WRONG", "DATA"],
        "does not match its architecture",
    ),
    (
        "--arch other than the checkpoint's",
        linear_train,
        ["--saved_model", "TINY", "DATA", "--linear", "--arch", "r2plus1d_18"],
        "not --arch r2plus1d_18",
    ),
    (
        "unknown --arch (pretraining)",
        cvrl_train,
        ["--run_id", "x", "--out_dir", "OUT", "DATA", "--arch", "resnet999"],
        "invalid choice: 'resnet999'",
    ),
    (
        "unknown --arch (random baseline)",
        finetune_train,
        ["--saved_model", "random", "--arch", "resnet999", "DATA"],
        "--saved_model random needs --arch, one of",
    ),
    (
        "batch larger than the dataset",
        tclr_train,
        ["--run_id", "x", "--out_dir", "OUT", "DATA", "--batch_size", "64", *tiny_pretraining()],
        "fewer than one batch of 64",
    ),
    (
        "one video per process (pretraining)",
        cvrl_train,
        ["--run_id", "x", "--out_dir", "OUT", "DATA", "--batch_size", "1", *tiny_pretraining()],
        "1 video(s) per process; this method needs at least 2 per process",
    ),
    (
        "no --data_root (pretraining)",
        tclr_train,
        ["--run_id", "x", "--out_dir", "OUT"],
        "--data_root is required for --dataset ucf101: the folder holding UCF-101/<Class>/v_*.avi",
    ),
    (
        "no --data_root (evaluation)",
        complete_retrieval,
        ["--saved_model", "TINY", "--dataset", "hmdb51"],
        "--data_root is required for --dataset hmdb51: the folder holding videos/<class>/*.avi",
    ),
    ("--epochs 0", tclr_train, ["--run_id", "x", "--out_dir", "OUT", "DATA", "--epochs", "0"], "--epochs: 0 is not"),
    (
        "--batch_size -4",
        cvrl_train,
        ["--run_id", "x", "--out_dir", "OUT", "DATA", "--batch_size", "-4"],
        "--batch_size: -4 is not a whole number >= 1",
    ),
    ("--lr 0", finetune_train, ["--saved_model", "TINY", "DATA", "--lr", "0"], "--lr: 0 is not a number > 0"),
    (
        "a linear recipe without --linear",
        finetune_train,
        ["--saved_model", "TINY", "DATA", "--recipe", "linear_tclr", "--out_dir", "OUT"],
        "--recipe linear_tclr is a linear-probe recipe: add --linear",
    ),
    (
        "--grad_cache in finetuning",
        finetune_train,
        ["--saved_model", "TINY", "DATA", "--grad_cache"],
        "unrecognized arguments: --grad_cache",
    ),
    (
        "Kinetics evaluation without a test list",
        linear_train,
        ["--saved_model", "TINY", "--linear", "--dataset", "kinetics", "--data_root", "EMPTY", "--list_file", "CSV"],
        "--dataset kinetics: an evaluation needs --test_list_file",
    ),
    (
        "--frames larger than every video (TCLR)",
        tclr_train,
        [
            *["--run_id", "x", "--out_dir", "OUT", "DATA", "--batch_size", "2", "--min_video_frames", "0"],
            *tiny_pretraining("--frames", "64"),
        ],
        "every train video is shorter than one clip: a clip has 64 frames",
    ),
    (
        "every video shorter than --min_video_frames (TCLR)",
        tclr_train,
        ["--run_id", "x", "--out_dir", "OUT", "DATA", "--batch_size", "2", *tiny_pretraining()],
        "every training video is shorter than 57 frames: lower --min_video_frames",
    ),
    (
        "--frames larger than every video (VTDL)",
        vtdl_train,
        [
            "--run_id",
            "x",
            "--out_dir",
            "OUT",
            "DATA",
            "--arch",
            "r3d_18",
            "--batch_size",
            "2",
            *tiny_pretraining("--frames", "32"),
        ],
        "a clip has 32 frames",
    ),
]


# What only the videos' decoded frame counts tell (the probe runs once the run has started).
CHECKED_AFTER_PROBING = {
    "--frames larger than every video (TCLR)",
    "--frames larger than every video (VTDL)",
    "every video shorter than --min_video_frames (TCLR)",
}


@pytest.mark.parametrize("name, main, argv, expected", BAD_ARGUMENTS, ids=[case[0] for case in BAD_ARGUMENTS])
def test_bad_arguments_end_with_one_line_naming_the_problem(
    tiny_synthetic, tmp_path, wrong_architecture, tiny_checkpoint, name, main, argv, expected, capsys
):
    root, split_dir = tiny_synthetic
    (tmp_path / "empty").mkdir()
    substitutions = {
        "WRONG": wrong_architecture,
        "TINY": tiny_checkpoint,
        "SPLITS": split_dir,
        "EMPTY": str(tmp_path / "empty"),
        "CSV": str(tmp_path / "train.csv"),
    }
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,x,0,10,train\n")
    expanded = []
    for arg in argv:
        if arg == "DATA":
            expanded += data_args(tiny_synthetic)
        else:
            expanded.append(substitutions.get(arg, arg.replace("OUT", str(tmp_path / "out"))))
    code, err = cli(main.main, expanded, capsys)
    last = err.strip().splitlines()[-1]
    assert code not in (0, None) and "Traceback" not in err, err[-2000:]
    assert expected in last, err[-2000:]
    assert "error" in last
    if name not in CHECKED_AFTER_PROBING:
        assert not (tmp_path / "out").exists()  # nothing written before the arguments were checked


def test_restart_with_another_architecture_names_what_differs(tiny_synthetic, tmp_path, capsys):
    folder = tmp_path / "ss_saved_models" / "run"
    folder.mkdir(parents=True)
    with open(folder / "run_config.json", "w") as f:
        json.dump({"arch": "r3d_18", "frames": 16, "size": 112}, f)
    torch.save({}, str(folder / "last.pt"))
    code, err = cli(
        tclr_train.main,
        [
            "--run_id",
            "run",
            "--out_dir",
            str(tmp_path),
            *data_args(tiny_synthetic),
            "--restart",
            "--arch",
            "r2plus1d_18",
            "--batch_size",
            "2",
        ],
        capsys,
    )
    assert code == 2 and "arch: 'r3d_18' -> 'r2plus1d_18'" in err.strip().splitlines()[-1]
    assert os.path.getsize(folder / "last.pt") > 0  # nothing was touched
