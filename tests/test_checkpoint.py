import os

import pytest
import torch
import torchvision
from torch import nn

from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import load_backbone, make_checkpoint, read_checkpoint_file, save_checkpoint


def perturbed(model):
    """Random weights and BatchNorm statistics, so that a round trip that drops anything shows."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if "running_var" in name else torch.randn_like(tensor) * 0.1)
    return model.eval()


def test_round_trip_reproduces_outputs_and_contract(tmp_path):
    backbone = perturbed(build_backbone("r3d_18", width=0.125, keep_time_in_layer4=True))
    contract = InputContract(frames=16, stride=4, size=32, channel_order="bgr")
    path = save_checkpoint(make_checkpoint("tclr", backbone, contract, config={"lr": 1e-3}, epoch=3),
                           str(tmp_path / "ck.pt"))
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
    torch.save({"opt": opt, "model": {"module.conv.weight": torch.ones(2)}, "contrast": {"params": torch.ones(5)},
                "optimizer": {}, "epoch": 240, "model_ema": {}}, path)
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
    with pytest.raises(UserError, match="not a readable checkpoint"):
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


# ---- the authors' released formats, rebuilt with their module structure and key names ----------


def tclr_release(tmp_path, arch="r3d_18"):
    """TCLR's model: nn.Sequential(torchvision r3d_18 (or r2plus1d_18) with the layer4 change, mlp),
    saved through DataParallel as {'state_dict': ..., 'epoch': ...}."""
    torch.manual_seed(0)
    r3d = getattr(torchvision.models.video, arch)()
    r3d.layer4[0].conv1[0] = nn.Conv3d(256, 512, (3, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), dilation=(2, 1, 1),
                                       bias=False)
    r3d.layer4[0].downsample[0] = nn.Conv3d(256, 512, (1, 1, 1), stride=(1, 2, 2), bias=False)
    mlp = nn.Module()
    mlp.fc1, mlp.bn1, mlp.bn2, mlp.fc2 = nn.Linear(512, 512), nn.BatchNorm1d(512), nn.BatchNorm1d(128), nn.Linear(
        512, 128, bias=False)
    model = perturbed(nn.Sequential(r3d, mlp))
    path = str(tmp_path / "model_best_e151_loss_0.9281.pth")
    torch.save({"epoch": 151, "state_dict": nn.DataParallel(model).state_dict(), "optimizer": {}}, path)
    return r3d, path


def torchvision_features(r3d, x):
    y = r3d.layer4(r3d.layer3(r3d.layer2(r3d.layer1(r3d.stem(x)))))
    return y.mean(dim=(3, 4), keepdim=True)


@pytest.mark.parametrize("arch", ["r3d_18", "r2plus1d_18"])
def test_tclr_release_converts_to_the_same_network(tmp_path, arch):
    r3d, path = tclr_release(tmp_path, arch)
    backbone, contract, checkpoint = load_backbone(path)
    x = torch.randn(1, 3, 16, 32, 32)
    with torch.no_grad():
        assert torch.allclose(backbone.eval()(x), torchvision_features(r3d, x), atol=1e-5)
    assert backbone.name == arch and backbone.config == {"keep_time_in_layer4": True}
    assert contract.channel_order == "bgr"
    assert checkpoint["epoch"] == 151 and set(checkpoint["heads"]["projection"]) >= {"fc1.weight", "fc2.weight"}


def test_vtdl_release_keeps_the_query_encoder(tmp_path):
    torch.manual_seed(1)
    query, key = perturbed(torchvision.models.video.r3d_18()), torchvision.models.video.r3d_18()
    state = {f"module.encoder_q.{k}": v for k, v in query.state_dict().items()}
    state.update({f"module.encoder_k.{k}": v for k, v in key.state_dict().items()})
    state["module.queue"] = torch.randn(128, 50)
    path = str(tmp_path / "vtdl.pth.tar")
    torch.save({"model": state, "epoch": 240}, path)
    with pytest.raises(UserError, match="--arch"):
        load_backbone(path)
    backbone, _, checkpoint = load_backbone(path, arch="r3d_18")
    x = torch.randn(1, 3, 16, 32, 32)
    with torch.no_grad():
        assert torch.allclose(backbone.eval()(x), torchvision_features(query, x), atol=1e-5)
    assert "fc.weight" in checkpoint["heads"]["head"]
    with pytest.raises(UserError, match="does not match its architecture"):
        load_backbone(path, arch="r2plus1d_18")


def test_tce_pretraining_release_with_its_rotation_head_loads_strictly(tmp_path):
    # network/model.py PreTrainNet in DataParallel, saved by pretrain.py
    torch.manual_seed(3)
    net = nn.Module()
    net.backbone = perturbed(torchvision.models.resnet18())
    del net.backbone.fc  # TCE's network/resnet.py has no classifier
    net.fc_contrastive = nn.Linear(512, 128)
    net.fc_rotation_1, net.bn_rotation_1 = nn.Linear(512, 200), nn.BatchNorm1d(200)
    net.fc_rotation_2, net.bn_rotation_2 = nn.Linear(200, 200), nn.BatchNorm1d(200)
    net.fc_rotation_3 = nn.Linear(200, 4)
    path = str(tmp_path / "ckpt_epoch_50.pth")
    torch.save({"epoch": 50, "state_dict": nn.DataParallel(net).state_dict(), "optimizer": {},
                "NCELoss": {"params": torch.tensor([8192, 0.07, 1.0]), "memory_bank": torch.randn(10, 128)}}, path)
    backbone, contract, checkpoint = load_backbone(path, arch="resnet18")
    frames = torch.randn(1, 3, 1, 64, 64)
    with torch.no_grad():
        ours = backbone.eval()(frames)[0, :, 0, 0, 0]
        resnet = net.backbone.eval()
        trunk = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool, resnet.layer1, resnet.layer2,
                              resnet.layer3, resnet.layer4)
        theirs = trunk(frames[:, :, 0]).mean(dim=(2, 3))[0]
    assert torch.allclose(ours, theirs, atol=1e-5) and contract.size == 224
    heads = checkpoint["heads"]["head"]
    assert {"fc_contrastive.weight", "bn_rotation_2.running_var", "fc_rotation_3.bias"} <= set(heads)
    from videossl.eval.tsne import linear_embedding_head  # TCE's t-SNE space: the release's own embedding
    assert torch.equal(linear_embedding_head(checkpoint).weight, net.fc_contrastive.weight)


def test_tce_release_is_a_2d_resnet(tmp_path):
    torch.manual_seed(2)
    resnet = perturbed(torchvision.models.resnet18())
    path = str(tmp_path / "tce.pth")
    torch.save({"state_dict": {f"module.encoder.{k}": v for k, v in resnet.state_dict().items()}}, path)
    backbone, contract, _ = load_backbone(path, arch="resnet18")
    frames = torch.randn(1, 3, 2, 64, 64)
    with torch.no_grad():
        ours = backbone.eval()(frames)[0, :, :, 0, 0].T  # [T, D]
        theirs = torch.stack([torch.flatten(nn.Sequential(*list(resnet.children())[:-1])(frames[:, :, t]), 1)[0]
                              for t in range(2)])
    assert torch.allclose(ours, theirs, atol=1e-5) and contract.mean is not None
