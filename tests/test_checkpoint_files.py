"""Every file that is not a checkpoint, as failed downloads leave them, gets one line naming what it
is and exit 2: from scripts/inspect_checkpoint.py and from an evaluation tool."""

import os
import random

import numpy as np
import pytest
import torch

from linear_eval import train as linear_train
from scripts import inspect_checkpoint
from tests.faults.test_untrusted_and_bad_arguments import cli
from tests.helpers import tiny_eval_args
from videossl.data.input_contract import InputContract
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import make_checkpoint, save_checkpoint


def tiny_checkpoint(path):
    backbone = build_backbone("r3d_18", width=0.125)
    save_checkpoint(make_checkpoint("tclr", backbone, InputContract(frames=4, stride=1, size=32)), str(path))
    return str(path)


def write_empty(folder):
    (folder / "model.pth").write_bytes(b"")
    return "model.pth"


def write_truncated_zip(folder):
    data = open(tiny_checkpoint(folder / "full.pt"), "rb").read()
    (folder / "model.pth").write_bytes(data[: len(data) // 2])
    os.remove(folder / "full.pt")
    return "model.pth"


def write_truncated_pickle(folder):
    torch.save({"state_dict": {"w": torch.zeros(100)}}, str(folder / "full.pt"), _use_new_zipfile_serialization=False)
    data = open(folder / "full.pt", "rb").read()
    (folder / "model.pth").write_bytes(data[: len(data) // 2])
    os.remove(folder / "full.pt")
    return "model.pth"


def write_text(folder):
    (folder / "model.pth").write_text("epoch 151 loss 0.42\n")
    return "model.pth"


def write_html(folder):
    page = "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body></body></html>"
    (folder / "model.pth").write_text(page)
    return "model.pth"


def write_lfs_pointer(folder):
    (folder / "model.pth").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 132567899\n"
    )
    return "model.pth"


def write_random_bytes(folder):
    generator = random.Random(3)
    (folder / "model.pth").write_bytes(b"\x13\x37" + bytes(generator.getrandbits(8) for _ in range(4096)))
    return "model.pth"


def write_pickle_of_random_bytes(folder):
    generator = random.Random(4)  # a pickle's first two bytes, then garbage: the unpickler reads it
    (folder / "model.pth").write_bytes(b"\x80\x02" + bytes(generator.getrandbits(8) for _ in range(4096)))
    return "model.pth"


def write_numpy(folder):
    with open(folder / "model.pth", "wb") as f:
        np.save(f, np.zeros((4, 8), np.float32))
    return "model.pth"


def write_numpy_archive(folder):
    with open(folder / "model.pth", "wb") as f:
        np.savez(f, features=np.zeros((4, 8), np.float32))
    return "model.pth"


def write_tf_index_only(folder):
    (folder / "ckpt-3.index").write_bytes(b"\x00index")
    return "ckpt-3"


def write_tf_data_only(folder):
    (folder / "ckpt-3.data-00000-of-00001").write_bytes(b"\x00data")
    return "ckpt-3.data-00000-of-00001"


def write_tf_missing_shard(folder):
    (folder / "ckpt-3.index").write_bytes(b"\x00index")
    (folder / "ckpt-3.data-00000-of-00002").write_bytes(b"\x00data")
    return "ckpt-3.index"


def write_folder_of_checkpoints(folder):
    for name in ("ckpt_epoch_45.pth", "ckpt_epoch_48.pth"):
        (folder / name).write_bytes(b"\x80\x02")
    return "."


def write_empty_folder(folder):
    (folder / "run").mkdir()
    return "run"


BAD_FILES = {
    # case: (writer, words the one line must contain)
    "empty": (write_empty, ["empty file (0 bytes)", "download the file again"]),
    "truncated zip": (write_truncated_zip, ["truncated or damaged zip archive", "download the file again"]),
    "truncated pickle": (write_truncated_pickle, ["not a readable checkpoint (damaged or truncated?)"]),
    "plain text": (write_text, ["a text file, not a checkpoint", "epoch 151 loss 0.42"]),
    "web page": (write_html, ["a web page (HTML), not a checkpoint", "open the link in a browser"]),
    "Git LFS pointer": (write_lfs_pointer, ["Git LFS pointer", "git lfs pull"]),
    "random bytes": (write_random_bytes, ["not a checkpoint: its first bytes match no known format"]),
    "pickle header, then garbage": (write_pickle_of_random_bytes, ["not a readable checkpoint (damaged"]),
    "NumPy file": (write_numpy, ["NumPy array file (.npy)"]),
    "NumPy archive": (write_numpy_archive, ["NumPy archive (.npz)"]),
    "TensorFlow index without data": (write_tf_index_only, [".data-00000-of-0000N file(s) beside ckpt-3.index"]),
    "TensorFlow data without index": (write_tf_data_only, ["needs ckpt-3.index beside its .data file(s)"]),
    "TensorFlow shard missing": (write_tf_missing_shard, ["1 of the TensorFlow checkpoint's 2 data files"]),
    "folder of checkpoints": (write_folder_of_checkpoints, ["a folder with 2 checkpoints", "ckpt_epoch_48.pth"]),
    "empty folder": (write_empty_folder, ["a folder with no checkpoint in it"]),
}


def one_line_error(code, err):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_inspect_checkpoint_names_what_a_bad_file_is(tmp_path, case, capsys):
    write, words = BAD_FILES[case]
    path = str(tmp_path / write(tmp_path))
    line = one_line_error(*cli(inspect_checkpoint.main, [path], capsys))
    for word in words:
        assert word in line
    assert "--trust_checkpoint" not in line  # none of these is a pickle that holds objects


@pytest.mark.parametrize("case", ["web page", "Git LFS pointer", "empty"])
def test_an_evaluation_tool_says_the_same(tiny_synthetic, tmp_path, case, capsys):
    write, words = BAD_FILES[case]
    path = str(tmp_path / write(tmp_path))
    argv = [*tiny_eval_args(tiny_synthetic, path), "--linear", "--out_dir", str(tmp_path / "out")]
    line = one_line_error(*cli(linear_train.main, argv, capsys))
    assert words[0] in line
    assert not (tmp_path / "out").exists()


def test_a_run_folder_is_read_as_its_last_checkpoint_with_a_note(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    tiny_checkpoint(tmp_path / "run" / "last.pt")
    tiny_checkpoint(tmp_path / "run" / "best.pt")
    code, output = cli(inspect_checkpoint.main, [str(tmp_path / "run")], capsys, with_stdout=True)
    assert code == 0
    assert "is a folder; using last.pt (1 other checkpoint file(s) there" in output
    assert "backbone:  r3d_18" in output


def test_a_pickle_holding_objects_is_the_only_case_that_mentions_trust(tmp_path, capsys):
    torch.save({"state_dict": {}, "config": InputContract(frames=4, stride=1, size=32)}, str(tmp_path / "m.pth"))
    line = one_line_error(*cli(inspect_checkpoint.main, [str(tmp_path / "m.pth")], capsys))
    assert "refused, it holds Python objects (videossl.data.input_contract.InputContract)" in line
    assert "--trust_checkpoint" in line
