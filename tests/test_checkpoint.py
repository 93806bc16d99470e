import os

import pytest
import torch
from torch import nn

from tests.helpers import perturbed
from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import load_backbone, make_checkpoint, read_checkpoint_file, save_checkpoint


def test_round_trip_reproduces_outputs_and_contract(tmp_path):
    backbone = perturbed(build_backbone("r3d_18", width=0.125, keep_time_in_layer4=True))
    contract = InputContract(frames=16, stride=4, size=32, channel_order="bgr")
    path = save_checkpoint(
        make_checkpoint("tclr", backbone, contract, config={"lr": 1e-3}, epoch=3), str(tmp_path / "ck.pt")
    )
    assert torch.load(path, weights_only=True)["epoch"] == 3  # plain torch, weights only
    loaded, loaded_contract, checkpoint = load_backbone(path)
    x = torch.randn(2, 3, 16, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), backbone(x))
    assert loaded_contract == contract and checkpoint["method"] == "tclr"
    assert not any(k.startswith("module.") for k in checkpoint["backbone"]["state_dict"])


def test_ddp_wrapped_modules_are_saved_without_prefix(tmp_path):
    backbone = build_backbone("r3d_18", width=0.125)
    wrapped = nn.DataParallel(backbone)  # stands for DDP: same .module attribute and prefix
    checkpoint = make_checkpoint("cvrl", wrapped, InputContract())
    assert set(checkpoint["backbone"]["state_dict"]) == set(backbone.state_dict())


class WritesAFileWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_vtdls_saved_options_load_safely_but_nothing_hidden_in_them(tmp_path):
    import argparse

    # VTDL's train_temporal_dis.py saves {'opt': <argparse.Namespace>, 'model', 'contrast', 'optimizer',
    # 'epoch', 'model_ema'}: the Namespace of plain values is allowed without --trust_checkpoint
    path = str(tmp_path / "ckpt_epoch_240.pth")
    opt = argparse.Namespace(learning_rate=0.003, nce_k=5000, arch="i3d", lr_decay_epochs=[120, 160, 200])
    torch.save(
        {
            "opt": opt,
            "model": {"module.conv.weight": torch.ones(2)},
            "contrast": {"params": torch.ones(5)},
            "optimizer": {},
            "epoch": 240,
            "model_ema": {},
        },
        path,
    )
    loaded = read_checkpoint_file(path)
    assert loaded["opt"].nce_k == 5000 and loaded["epoch"] == 240
    # a Namespace carrying anything else is refused like any other object
    marker = str(tmp_path / "payload_ran")
    torch.save({"opt": argparse.Namespace(evil=WritesAFileWhenUnpickled(marker))}, str(tmp_path / "evil.pth"))
    with pytest.raises(UserError, match="trust_checkpoint"):
        read_checkpoint_file(str(tmp_path / "evil.pth"))
    assert not os.path.exists(marker)


def test_a_pickled_payload_is_refused_without_running_it(tmp_path):
    marker = str(tmp_path / "payload_ran")
    path = str(tmp_path / "evil.pth")
    torch.save({"state_dict": {}, "extra": WritesAFileWhenUnpickled(marker)}, path)
    with pytest.raises(UserError, match="trust_checkpoint"):
        read_checkpoint_file(path)
    assert not os.path.exists(marker)
    read_checkpoint_file(path, trust=True)  # the explicit flag loads it, payload and all
    assert os.path.exists(marker)


def test_corrupt_and_missing_files_are_one_clear_error(tmp_path):
    backbone = build_backbone("c3d", width=0.125)
    path = save_checkpoint(make_checkpoint("vtdl", backbone, InputContract()), str(tmp_path / "ck.pt"))
    data = open(path, "rb").read()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated or damaged zip archive"):
        load_backbone(str(truncated))
    with pytest.raises(UserError, match="not found"):
        load_backbone(str(tmp_path / "nope.pt"))


def test_an_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = str(tmp_path / "ck.pt")
    save_checkpoint({"epoch": 1}, path)

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["ck.pt"]


def test_wrong_architecture_is_named(tmp_path):
    backbone = build_backbone("r3d_18", width=0.125)
    checkpoint = make_checkpoint("tclr", backbone, InputContract())
    checkpoint["backbone"]["config"] = {"width": 0.25}
    path = save_checkpoint(checkpoint, str(tmp_path / "ck.pt"))
    with pytest.raises(UserError, match="does not match its architecture: .*other shapes"):
        load_backbone(path)
