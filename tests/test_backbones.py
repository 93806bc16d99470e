import importlib

import pytest
import torch
import torchvision

from videossl.errors import UserError
from videossl.models.backbones import BACKBONES, build_backbone, same_padding, tf_same_pads, tile_first_conv


def count(module):
    return sum(p.numel() for p in module.parameters())


def shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def torchvision_trunk(model, drop):
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith(drop)}


@pytest.mark.parametrize(
    "name, reference",
    [
        ("r3d_18", lambda: torchvision.models.video.r3d_18()),
        ("r2plus1d_18", lambda: torchvision.models.video.r2plus1d_18()),
        ("resnet18", lambda: torchvision.models.resnet18()),
        ("resnet50", lambda: torchvision.models.resnet50()),
    ],
)
def test_full_width_equals_torchvision_minus_the_classifier(name, reference):
    ours = build_backbone(name)
    assert shapes(ours.state_dict()) == torchvision_trunk(reference(), "fc.")  # its weights load as they are


def test_s3d_equals_torchvision_features():
    tv = importlib.import_module("torchvision.models.video.s3d").S3D()
    assert shapes(build_backbone("s3d").state_dict()) == {
        k: tuple(v.shape) for k, v in tv.state_dict().items() if k.startswith("features.")
    }


def test_published_parameter_counts():
    # CVRL's slow-only R3D-50: 31.7M (paper); I3D: 12,697,264 in the reference PyTorch port minus the
    # 1024 x 400 + 400 logits layer; C3D's 8 convolutions (27,655,936 weights and biases) plus BatchNorm.
    assert count(build_backbone("r3d_50")) == 31_672_128
    assert count(build_backbone("i3d")) == 12_697_264 - 410_000
    c3d_convs = sum(
        i * o * 27 + o
        for i, o in [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    )
    assert c3d_convs == 27_655_936
    assert count(build_backbone("c3d")) == c3d_convs + 2 * (64 + 128 + 256 * 2 + 512 * 4)


# (name, kwargs, time steps out of 16 frames)
TINY = [
    ("r3d_18", {}, 2),
    ("r3d_18", {"keep_time_in_layer4": True}, 4),
    ("r2plus1d_18", {}, 2),
    ("r2plus1d_18", {"keep_time_in_layer4": True}, 4),
    ("r3d_50", {}, 8),
    ("c3d", {}, 2),
    ("i3d", {}, 2),
    ("s3d", {}, 2),
    ("r3d_18_hara", {}, 1),
    ("resnet18", {}, 16),
    ("resnet50", {}, 16),
]


@pytest.mark.parametrize("name, kwargs, steps", TINY)
def test_tiny_backbones_give_a_space_pooled_time_kept_map(name, kwargs, steps):
    model = build_backbone(name, width=0.125, **kwargs)
    assert model.config == {"width": 0.125, **kwargs} and model.name == name
    out = model(torch.randn(2, 3, 16, 32, 32))
    assert out.shape == (2, model.dim, steps, 1, 1)
    assert count(model) < 1_000_000


def test_every_registered_backbone_is_covered():
    assert {name for name, _, _ in TINY} | {"resnet34", "resnet101", "resnet152"} == set(BACKBONES)


def test_tclr_layer4_variant_adds_no_parameters():
    standard, variant = build_backbone("r3d_18"), build_backbone("r3d_18", keep_time_in_layer4=True)
    assert shapes(standard.state_dict()) == shapes(variant.state_dict())
    assert variant.layer4[0].conv1[0].dilation == (2, 1, 1) and variant.layer4[0].conv1[0].stride == (1, 2, 2)


def test_stack_of_differences_sees_only_differences():
    model = build_backbone("resnet18", width=0.125, stack_of_differences=6).eval()
    x = torch.randn(2, 3, 6, 32, 32)
    out = model(x)
    assert out.shape == (2, model.dim, 1, 1, 1) and model.conv1.in_channels == 15
    assert torch.allclose(model(x + 0.5), out, atol=1e-5)  # a constant offset cancels in differences
    assert not torch.allclose(model(x.flip(2)), out, atol=1e-3)  # order matters: earlier minus later
    rgb = build_backbone("resnet18", width=0.125).conv1.weight
    tiled = tile_first_conv(rgb, 6)
    assert tiled.shape == (rgb.shape[0], 15, 7, 7) and torch.equal(tiled[:, 12:15], rgb)


def test_unknown_names_and_arguments_are_one_clear_error():
    with pytest.raises(UserError, match="unknown backbone 'r3d_19'"):
        build_backbone("r3d_19")
    with pytest.raises(UserError, match="r3d_18"):
        build_backbone("r3d_18", depth=50)


def test_tclr_r2plus1d_variant_has_the_release_loaders_layer4_shapes():
    # DAVEISHAN/TCLR nn_retrieval/model.py (build_rpd_encoder_ret) replaces layer4[0].conv1[0] of
    # torchvision's R(2+1)D-18 with a full 3x3x3 convolution (dilation 2 in time) and strictly loads
    # the released file into it: these are the shapes that file must have
    state = build_backbone("r2plus1d_18", keep_time_in_layer4=True).state_dict()
    assert state["layer4.0.conv1.0.weight"].shape == (512, 256, 3, 3, 3)
    assert state["layer4.0.downsample.0.weight"].shape == (512, 256, 1, 1, 1)
    assert not any(k.startswith("layer4.0.conv1.0.") and k.count(".") > 4 for k in state)  # no factorised parts
    reference = torchvision.models.video.r2plus1d_18().state_dict()
    factorised = {k for k in reference if k.startswith("layer4.0.conv1.0.")}
    assert set(state) == (set(reference) - factorised - {"fc.weight", "fc.bias"}) | {"layer4.0.conv1.0.weight"}
    conv = build_backbone("r2plus1d_18", keep_time_in_layer4=True).layer4[0].conv1[0]
    assert (conv.stride, conv.padding, conv.dilation) == ((1, 2, 2), (2, 1, 1), (2, 1, 1))


def test_tensorflow_same_padding_by_hand():
    # CVRL's stem on 16 x 224 x 224: 8 x 112 x 112 outputs need 3 (time) and 5 (space) zeros, the odd one after
    assert tf_same_pads((16, 224, 224), (5, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 1, 2]
    # an odd size needs an even number: 29 outputs of a 3-wide window at stride 2 over 57 -> 1 and 1
    assert tf_same_pads((1, 57, 57), (1, 3, 3), (1, 2, 2)) == [1, 1, 1, 1, 0, 0]
    # VTDL's I3D port pads k - s whatever the size (src/model/i3d.py get_padding_shape)
    assert same_padding((7, 7, 7), (2, 2, 2)) == (2, 3, 2, 3, 2, 3) and same_padding((3, 3, 3), (1, 1, 1)) == (1,) * 6
