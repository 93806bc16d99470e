"""The authors' released files, rebuilt with their module structure, key names and wrapping (random
weights, generated here): each loads strictly through the shared loader alone, and the converted
backbone computes what a plain re-statement of the release's own architecture computes."""

import argparse
import json
import os
import subprocess
import sys
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

from scripts import inspect_checkpoint
from tests.helpers import perturbed
from videossl.errors import UserError
from videossl.models.checkpoint import load_backbone
from videossl.models.convert import resnet_depth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- TCLR (DAVEISHAN/TCLR) ---------------------------------------------------------------------


def tclr_release(tmp_path, arch="r3d_18"):
    """TCLR's model: nn.Sequential(torchvision r3d_18 (or r2plus1d_18) with the layer4 change, mlp),
    saved through DataParallel as {'state_dict': ..., 'epoch': ...}."""
    torch.manual_seed(0)
    r3d = getattr(torchvision.models.video, arch)()
    r3d.layer4[0].conv1[0] = nn.Conv3d(
        256, 512, (3, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), dilation=(2, 1, 1), bias=False
    )
    r3d.layer4[0].downsample[0] = nn.Conv3d(256, 512, (1, 1, 1), stride=(1, 2, 2), bias=False)
    mlp = nn.Module()
    mlp.fc1, mlp.bn1, mlp.bn2, mlp.fc2 = (
        nn.Linear(512, 512),
        nn.BatchNorm1d(512),
        nn.BatchNorm1d(128),
        nn.Linear(512, 128, bias=False),
    )
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
    assert (contract.channel_order, contract.frames, contract.stride, contract.size) == ("bgr", 16, 2, 112)
    assert checkpoint["epoch"] == 151 and set(checkpoint["heads"]["projection"]) >= {"fc1.weight", "fc2.weight"}


# ---- VTDL (FingerRec/...): src/model/i3d.py and src/model/r3d.py, re-stated --------------------


def release_padding(kernel, stride):
    """src/model/i3d.py get_padding_shape: k - s zeros per dimension, the odd one after, in the order
    (dim 1, dim 2, time) that ConstantPad3d receives there."""
    pairs = [(max(k - s, 0) // 2, max(k - s, 0) - max(k - s, 0) // 2) for k, s in zip(kernel, stride)]
    return pairs[1] + pairs[2] + pairs[0]


class ReleaseUnit(nn.Module):
    """Unit3Dpy: convolution (padded inside it when the padding is symmetric, by ConstantPad3d
    before it otherwise), BatchNorm, ReLU."""

    def __init__(self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), bn=True, relu=True):
        super().__init__()
        pads = release_padding(kernel, stride)
        self.pad = None if len(set(pads)) == 1 else nn.ConstantPad3d(pads, 0)
        self.conv3d = nn.Conv3d(
            cin, cout, kernel, stride=stride, padding=pads[0] if self.pad is None else 0, bias=False
        )
        self.batch3d = nn.BatchNorm3d(cout) if bn else None
        self.relu = relu

    def forward(self, x):
        x = self.conv3d(x if self.pad is None else self.pad(x))
        x = x if self.batch3d is None else self.batch3d(x)
        return torch.relu(x) if self.relu else x


class ReleasePool(nn.Module):
    """MaxPool3dTFPadding: ConstantPad3d of zeros, then MaxPool3d in ceil mode."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.pad, self.pool = (
            nn.ConstantPad3d(release_padding(kernel, stride), 0),
            nn.MaxPool3d(kernel, stride, ceil_mode=True),
        )

    def forward(self, x):
        return self.pool(self.pad(x))


class ReleaseMixed(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.branch_0 = ReleaseUnit(cin, c[0])
        self.branch_1 = nn.Sequential(ReleaseUnit(cin, c[1]), ReleaseUnit(c[1], c[2], (3, 3, 3)))
        self.branch_2 = nn.Sequential(ReleaseUnit(cin, c[3]), ReleaseUnit(c[3], c[4], (3, 3, 3)))
        self.branch_3 = nn.Sequential(ReleasePool((3, 3, 3), (1, 1, 1)), ReleaseUnit(cin, c[5]))

    def forward(self, x):
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], 1)


class ReleaseI3D(nn.Module):
    """I3D as src/model/i3d.py builds it; ``with_classifier`` as the finetuning builds it."""

    def __init__(self, with_classifier=False, num_classes=51):
        super().__init__()
        self.conv3d_1a_7x7 = ReleaseUnit(3, 64, (7, 7, 7), (2, 2, 2))
        self.maxPool3d_2a_3x3 = ReleasePool((1, 3, 3), (1, 2, 2))
        self.conv3d_2b_1x1 = ReleaseUnit(64, 64)
        self.conv3d_2c_3x3 = ReleaseUnit(64, 192, (3, 3, 3))
        self.maxPool3d_3a_3x3 = ReleasePool((1, 3, 3), (1, 2, 2))
        self.mixed_3b, self.mixed_3c = (
            ReleaseMixed(192, [64, 96, 128, 16, 32, 32]),
            ReleaseMixed(256, [128, 128, 192, 32, 96, 64]),
        )
        self.maxPool3d_4a_3x3 = ReleasePool((3, 3, 3), (2, 2, 2))
        self.mixed_4b = ReleaseMixed(480, [192, 96, 208, 16, 48, 64])
        self.mixed_4c = ReleaseMixed(512, [160, 112, 224, 24, 64, 64])
        self.mixed_4d = ReleaseMixed(512, [128, 128, 256, 24, 64, 64])
        self.mixed_4e = ReleaseMixed(512, [112, 144, 288, 32, 64, 64])
        self.mixed_4f = ReleaseMixed(528, [256, 160, 320, 32, 128, 128])
        self.maxPool3d_5a_2x2 = ReleasePool((2, 2, 2), (2, 2, 2))
        self.mixed_5b = ReleaseMixed(832, [256, 160, 320, 32, 128, 128])
        self.mixed_5c = ReleaseMixed(832, [384, 192, 384, 48, 128, 128])
        if with_classifier:
            self.conv3d_0c_1x1_custom = ReleaseUnit(1024, num_classes, (7, 1, 1), bn=False, relu=False)
        else:
            self.id_head = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(1024, 128))
            self.cls_head = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(1024, 200))

    def conv_features(self, x):  # forward(return_conv=True)
        x = self.maxPool3d_2a_3x3(self.conv3d_1a_7x7(x))
        x = self.maxPool3d_3a_3x3(self.conv3d_2c_3x3(self.conv3d_2b_1x1(x)))
        x = self.maxPool3d_4a_3x3(self.mixed_3c(self.mixed_3b(x)))
        for name in ("4b", "4c", "4d", "4e", "4f"):
            x = getattr(self, f"mixed_{name}")(x)
        return self.mixed_5c(self.mixed_5b(self.maxPool3d_5a_2x2(x)))


class ReleaseBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv3d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm3d(cout)
        self.conv2, self.bn2 = nn.Conv3d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm3d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class ReleaseR3D(nn.Module):
    """src/model/r3d.py resnet18 (shortcut type B)."""

    def __init__(self, with_classifier=False, num_classes=51):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1, self.maxpool = nn.BatchNorm3d(64), nn.MaxPool3d(3, stride=2, padding=1)
        widths, cin = (64, 128, 256, 512), 64
        for i, c in enumerate(widths):
            setattr(
                self,
                f"layer{i + 1}",
                nn.Sequential(ReleaseBasicBlock(cin, c, 1 if i == 0 else 2), ReleaseBasicBlock(c, c)),
            )
            cin = c
        if with_classifier:
            self.cp = nn.Conv3d(512, num_classes, (1, 1, 1), bias=False)
        else:
            self.id_head = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(512, 128))
            self.cls_head = nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(512, 200))

    def conv_features(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class TCN(nn.Module):
    """src/model/model.py's wrapper in finetuning: only ``base_model`` holds weights."""

    def __init__(self, base_model):
        super().__init__()
        self.base_model = base_model


def vtdl_pretraining_file(tmp_path, model, arch):
    """src/train_temporal_dis.py ``saving``: DataParallel state dicts and the argparse options."""
    opt = argparse.Namespace(arch=arch, data_length=16, stride=4, spatial_size="224", nce_k=3569, moco=True)
    state = nn.DataParallel(model).state_dict()
    path = str(tmp_path / "ckpt_epoch_48.pth")
    torch.save(
        {
            "opt": opt,
            "model": state,
            "contrast": {"params": torch.tensor([3569, 0.07]), "memory": torch.randn(8, 128)},
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.1).state_dict(),
            "epoch": 48,
            "model_ema": state,
        },
        path,
    )
    return path


def vtdl_finetuned_file(tmp_path, model):
    """src/trainer.py: {'epoch', 'arch' (always "i3d"), 'state_dict' of DataParallel(TCN), 'best_prec1'}."""
    path = str(tmp_path / "fine_tune_rgb_model_latest.pth.tar")
    torch.save(
        {"epoch": 45, "arch": "i3d", "state_dict": nn.DataParallel(TCN(model)).state_dict(), "best_prec1": 52.7}, path
    )
    return path


VTDL_CASES = [("i3d", ReleaseI3D), ("r3d_18_hara", ReleaseR3D)]


@pytest.mark.parametrize("arch, release", VTDL_CASES)
def test_vtdl_pretraining_file_computes_what_the_release_computes(tmp_path, arch, release):
    torch.manual_seed(4)
    model = perturbed(release())
    path = vtdl_pretraining_file(tmp_path, model, "i3d" if arch == "i3d" else "r3d")
    backbone, contract, checkpoint = load_backbone(path)  # nothing but the file: no --arch
    x = torch.randn(1, 3, 16, 64, 64)
    with torch.no_grad():
        theirs = model.conv_features(x).mean(dim=(3, 4), keepdim=True)
        assert torch.allclose(backbone.eval()(x), theirs, atol=1e-5)
    assert backbone.name == arch and checkpoint["epoch"] == 48
    assert (contract.frames, contract.stride, contract.size, contract.mean) == (16, 4, 224, [0.485, 0.456, 0.406])
    assert torch.equal(checkpoint["heads"]["projection"]["weight"], model.id_head[2].weight)
    assert set(checkpoint["heads"]["pretext_classifier"]) == {"weight", "bias"}


@pytest.mark.parametrize("arch, release", VTDL_CASES)
def test_vtdl_finetuned_file_loads_by_its_keys_not_its_arch_field(tmp_path, arch, release):
    torch.manual_seed(5)
    model = perturbed(release(with_classifier=True))
    backbone, contract, checkpoint = load_backbone(vtdl_finetuned_file(tmp_path, model))
    x = torch.randn(1, 3, 16, 64, 64)
    with torch.no_grad():
        assert torch.allclose(backbone.eval()(x), model.conv_features(x).mean(dim=(3, 4), keepdim=True), atol=1e-5)
    assert backbone.name == arch and checkpoint["heads"]["classifier"] and (contract.frames, contract.stride) == (64, 1)
    with pytest.raises(UserError, match="holds a"):
        load_backbone(vtdl_finetuned_file(tmp_path, model), arch="r2plus1d_18")


# ---- TCE (csiro-robotics/TCE) ------------------------------------------------------------------


def tce_pretrain_net(seed):
    """TCE's network/model.py PreTrainNet: a ResNet without its classifier, the contrastive and
    rotation heads."""
    torch.manual_seed(seed)
    net = nn.Module()
    net.backbone = perturbed(torchvision.models.resnet18())
    del net.backbone.fc
    net.fc_contrastive = nn.Linear(512, 128)
    net.fc_rotation_1, net.bn_rotation_1 = nn.Linear(512, 200), nn.BatchNorm1d(200)
    net.fc_rotation_2, net.bn_rotation_2 = nn.Linear(200, 200), nn.BatchNorm1d(200)
    net.fc_rotation_3 = nn.Linear(200, 4)
    return net


def test_tce_pretraining_release_with_its_rotation_head_loads_strictly(tmp_path):
    # network/model.py PreTrainNet in DataParallel, saved by pretrain.py
    net = tce_pretrain_net(3)
    path = str(tmp_path / "ckpt_epoch_50.pth")
    torch.save(
        {
            "epoch": 50,
            "state_dict": nn.DataParallel(net).state_dict(),
            "optimizer": {},
            "NCELoss": {"params": torch.tensor([8192, 0.07, 1.0]), "memory_bank": torch.randn(10, 128)},
        },
        path,
    )
    backbone, contract, checkpoint = load_backbone(path)  # the depth is read from the keys
    frames = torch.randn(1, 3, 1, 64, 64)
    with torch.no_grad():
        ours = backbone.eval()(frames)[0, :, 0, 0, 0]
        resnet = net.backbone.eval()
        trunk = nn.Sequential(
            resnet.conv1,
            resnet.bn1,
            resnet.relu,
            resnet.maxpool,
            resnet.layer1,
            resnet.layer2,
            resnet.layer3,
            resnet.layer4,
        )
        theirs = trunk(frames[:, :, 0]).mean(dim=(2, 3))[0]
    assert torch.allclose(ours, theirs, atol=1e-5) and contract.size == 224 and backbone.name == "resnet18"
    heads = checkpoint["heads"]["head"]
    assert {"fc_contrastive.weight", "bn_rotation_2.running_var", "fc_rotation_3.bias"} <= set(heads)
    from videossl.eval.tsne import linear_embedding_head  # TCE's t-SNE space: the release's own embedding

    assert torch.equal(linear_embedding_head(checkpoint).weight, net.fc_contrastive.weight)


def tce_checkpoint_as_pretrain_saves_it(path, net, config):
    """pretrain.py's save at commit 0da560c7 (lines 206-215): the yacs config object, the
    DataParallel state dict, the optimizer's and the NCE loss's state, the epoch."""
    optimizer = torch.optim.SGD(net.parameters(), lr=0.03, momentum=0.9)
    nce = {"params": torch.tensor([8192, 0.07, -1.0, 0.5]), "memory_bank": torch.randn(16, 128)}
    state = {"config": config, "state_dict": nn.DataParallel(net).state_dict(), "optimizer": optimizer.state_dict()}
    torch.save({**state, "NCELoss": nce, "epoch": 50}, path)
    return path


def yacs_like_config(node):
    """A config shaped like TCE's config/default.py (nested nodes, lists, strings, numbers), frozen."""
    config = node()
    config.TRAIN = node()
    config.TRAIN.PRETRAINING = node()
    config.TRAIN.PRETRAINING.SAVEDIR = "/scratch/tce"
    config.TRAIN.PRETRAINING.LEARNING_RATE = 0.03
    config.DATASET = node()
    config.DATASET.PRETRAINING = node()
    config.DATASET.PRETRAINING.MEAN = [0.485, 0.456, 0.406]
    return config


def test_tce_checkpoint_with_its_yacs_config_loads_in_the_safe_path(tmp_path, capsys):
    from yacs.config import CfgNode  # a test dependency ([dev]); the loader never imports it

    net = tce_pretrain_net(5)
    config = yacs_like_config(CfgNode)
    config.freeze()
    path = tce_checkpoint_as_pretrain_saves_it(str(tmp_path / "ckpt_epoch_50.pth"), net, config)
    backbone, _, checkpoint = load_backbone(path)  # no --trust_checkpoint: nothing is unpickled beyond data
    torch.save({"state_dict": nn.DataParallel(net).state_dict()}, str(tmp_path / "weights_only.pth"))
    reference, _, _ = load_backbone(str(tmp_path / "weights_only.pth"))
    assert backbone.name == "resnet18" and checkpoint["epoch"] == 50
    for key, value in reference.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value)
    assert inspect_checkpoint.main([path]) == 0 and "refused" not in capsys.readouterr().err


def test_a_yacs_config_loads_as_plain_data_where_yacs_is_not_installed(tmp_path, monkeypatch):
    import types

    from videossl.models.checkpoint import read_checkpoint_file

    class CfgNode(dict):  # the pickle names yacs.config.CfgNode, as the real one's does
        def __getattr__(self, key):
            try:
                return self[key]
            except KeyError:
                raise AttributeError(key) from None

        def __setattr__(self, key, value):
            self[key] = value

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    fake = types.ModuleType("yacs.config")
    fake.CfgNode = CfgNode
    monkeypatch.setitem(sys.modules, "yacs", types.ModuleType("yacs"))
    monkeypatch.setitem(sys.modules, "yacs.config", fake)
    config = yacs_like_config(CfgNode)
    object.__setattr__(config, "__immutable__", True)  # what a frozen node pickles beside its keys
    path = tce_checkpoint_as_pretrain_saves_it(str(tmp_path / "ckpt_epoch_50.pth"), tce_pretrain_net(6), config)
    monkeypatch.delitem(sys.modules, "yacs.config")  # the loading machine has no yacs
    monkeypatch.delitem(sys.modules, "yacs")
    loaded = read_checkpoint_file(path)["config"]
    assert type(loaded) is dict and type(loaded["TRAIN"]["PRETRAINING"]) is dict
    assert loaded["TRAIN"]["PRETRAINING"]["LEARNING_RATE"] == 0.03
    assert loaded["DATASET"]["PRETRAINING"]["MEAN"] == [0.485, 0.456, 0.406]
    assert "yacs.config" not in sys.modules


def test_tce_release_is_a_2d_resnet(tmp_path):
    torch.manual_seed(2)
    resnet = perturbed(torchvision.models.resnet18())
    path = str(tmp_path / "tce.pth")
    torch.save({"state_dict": {f"module.encoder.{k}": v for k, v in resnet.state_dict().items()}}, path)
    backbone, contract, _ = load_backbone(path)
    frames = torch.randn(1, 3, 2, 64, 64)
    with torch.no_grad():
        ours = backbone.eval()(frames)[0, :, :, 0, 0].T  # [T, D]
        theirs = torch.stack(
            [torch.flatten(nn.Sequential(*list(resnet.children())[:-1])(frames[:, :, t]), 1)[0] for t in range(2)]
        )
    assert torch.allclose(ours, theirs, atol=1e-5) and contract.mean is not None


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_resnet_depth_is_read_from_the_keys(name):
    # TCE's "resnet101" option builds a ResNet-50 (utils/network_utils.py): the keys, not the name, decide
    with torch.device("meta"):
        state = getattr(torchvision.models, name)().state_dict()
    assert resnet_depth(state) == name


# ---- torchvision's supervised weights ----------------------------------------------------------


def test_torchvision_weights_load_from_the_torch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.video.R2Plus1D_18_Weights.KINETICS400_V1
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.manual_seed(6)
    reference = perturbed(torchvision.models.video.r2plus1d_18())
    torch.save(reference.state_dict(), cache / os.path.basename(weights.url))  # as a past download left it
    backbone, contract, checkpoint = load_backbone("torchvision:r2plus1d_18")
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.allclose(backbone.eval()(x), torchvision_features(reference, x), atol=1e-5)
    assert contract.mean == [0.43216, 0.394666, 0.37645] and (contract.frames, contract.size) == (16, 112)
    assert set(checkpoint["heads"]["kinetics400_classifier"]) == {"weight", "bias"}


def test_torchvision_weights_without_internet_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(UserError, match="could not download .*copy the file there"):
        load_backbone("torchvision:s3d")
    with pytest.raises(UserError, match="exist for torchvision:r3d_18"):
        load_backbone("torchvision:c3d")


# ---- inspect_checkpoint.py ---------------------------------------------------------------------


def test_inspect_reports_a_release_without_running_it(tmp_path, capsys):
    torch.manual_seed(7)
    path = vtdl_pretraining_file(tmp_path, ReleaseR3D(), "r3d")
    report = str(tmp_path / "report.json")
    assert inspect_checkpoint.main([path, "--json", report]) == 0
    out = capsys.readouterr().out
    assert "VTDL pretraining checkpoint" in out and "r3d_18_hara" in out and "all " in out
    info = json.load(open(report))
    assert info["parameters"] == 33_203_904 and info["missing"] == [] and info["input_contract"]["size"] == 224


def test_a_damaged_release_is_named_key_by_key(tmp_path):
    torch.manual_seed(8)
    _, path = tclr_release(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["state_dict"]["module.0.layer2.0.conv1.0.weight"]
    checkpoint["state_dict"]["module.0.layer3.0.conv1.1.weight"] = torch.ones(7)
    torch.save(checkpoint, path)
    with pytest.raises(UserError, match=r"1 missing \(first: layer2.0.conv1.0.weight\).*1 with other shapes"):
        inspect_checkpoint.main([path])
    with pytest.raises(UserError, match="layer2.0.conv1.0.weight"):
        load_backbone(path)  # every tool gives the same line


def test_an_unknown_file_is_one_line_and_exit_2(tmp_path):
    path = str(tmp_path / "weights.pt")
    torch.save({"net": {"encoder.conv.weight": torch.ones(3)}, "iteration": 5}, path)
    result = subprocess.run(
        [sys.executable, "scripts/inspect_checkpoint.py", path], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "not a known checkpoint format (top-level keys net, iteration; 1 tensors" in result.stderr


# ---- CVRL's TensorFlow checkpoints (the output equality is tests/test_cvrl_tensorflow.py, slow) ----


def test_a_tensorflow_checkpoint_is_recognised_and_names_the_extra_it_needs(tmp_path, monkeypatch):
    for name in ("ckpt-7.index", "ckpt-7.data-00000-of-00001"):
        (tmp_path / name).write_bytes(b"\0")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as without the [tf] extra
    for path in (str(tmp_path / "ckpt-7"), str(tmp_path)):  # the prefix, or the folder holding it
        with pytest.raises(UserError, match=r"needs TensorFlow: pip install -e '\.\[tf\]'"):
            load_backbone(path)
    (tmp_path / "ckpt-8.index").write_bytes(b"\0")
    from videossl.models.convert_tf import checkpoint_prefix

    with pytest.raises(UserError, match="2 TensorFlow checkpoints and no 'checkpoint' file"):
        checkpoint_prefix(str(tmp_path), lambda folder: None)
