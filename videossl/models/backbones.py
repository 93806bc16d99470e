"""Backbone registry: ``build_backbone(name, **kwargs)``.

Every backbone takes ``[B, 3, T, H, W]`` and returns a feature map ``[B, D, T', 1, 1]`` (space
average-pooled, time kept) and exposes ``dim`` (D), ``name`` and ``config`` (the constructor
arguments, which checkpoints store so that ``load_backbone`` can rebuild it from the file alone).

torchvision's implementations are reused wherever they exist, and at ``width=1`` the state-dict
keys and shapes equal torchvision's (minus the classifier), so its Kinetics/ImageNet weights load
as they are. ``width`` scales every channel count for tiny CPU versions.
"""

import importlib
from collections.abc import Sequence
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet as tv_resnet
from torchvision.models.video import resnet as tv_video
from torchvision.ops.misc import Conv3dNormActivation

from videossl.errors import UserError

tv_s3d = importlib.import_module("torchvision.models.video.s3d")

BackboneFactory = Callable[..., nn.Module]
Triple = tuple[int, int, int]
BACKBONES: dict[str, BackboneFactory] = {}


def register(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    def decorate(factory: BackboneFactory) -> BackboneFactory:
        BACKBONES[name] = factory
        return factory

    return decorate


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """A backbone by registry name; ``kwargs`` go to its constructor and are recorded in ``config``."""
    if name not in BACKBONES:
        raise UserError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
    try:
        model = BACKBONES[name](**kwargs)
    except TypeError as err:
        raise UserError(f"backbone {name}: {err}") from None
    model.name, model.config = name, dict(kwargs)
    return model


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _init_like_torchvision(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _pool_space(x: Tensor):
    """``[B, D, T, H, W]`` -> ``[B, D, T, 1, 1]``."""
    return F.adaptive_avg_pool3d(x, (x.shape[2], 1, 1))


# ----------------------------------------------------------------------------------------------
# R3D-18, R(2+1)D-18 (torchvision's VideoResNet) and CVRL's slow-only R3D-50
# ----------------------------------------------------------------------------------------------


class VideoResNetBackbone(tv_video.VideoResNet):
    """torchvision's VideoResNet without avgpool/fc, with channel widths scaled by ``width``."""

    def __init__(
        self,
        block: type[nn.Module],
        conv_makers: Sequence[type[nn.Module]],
        layers: Sequence[int],
        stem: Callable[[int], nn.Module],
        width: float = 1.0,
        widths: Sequence[int] = (64, 128, 256, 512),
    ) -> None:
        nn.Module.__init__(self)  # VideoResNet's own __init__ would first build the full-width network
        planes = [scaled(c, width) for c in widths]
        self.stem = stem(planes[0])
        self.inplanes = planes[0]
        for i, (conv_maker, count) in enumerate(zip(conv_makers, layers)):
            setattr(
                self, f"layer{i + 1}", self._make_layer(block, conv_maker, planes[i], count, stride=1 if i == 0 else 2)
            )
        self.dim = planes[3] * block.expansion
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return _pool_space(x)


def _r3d_stem(channels):
    # torchvision's BasicStem, same child indices (stem.0 conv, stem.1 bn), any width.
    return nn.Sequential(
        nn.Conv3d(3, channels, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(channels),
        nn.ReLU(inplace=True),
    )


def _r2plus1d_stem(channels, width):
    mid = scaled(45, width)
    return nn.Sequential(
        nn.Conv3d(3, mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, channels, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(channels),
        nn.ReLU(inplace=True),
    )


def _keep_time_in_layer4(model: nn.Module) -> None:
    """TCLR's variant: layer4 loses its temporal stride (16 frames end in 4 time steps, not 2). Its
    first convolution becomes a 3x3x3 convolution of temporal dilation 2 and spatial stride 2, and
    its shortcut a 1x1x1 convolution of spatial stride 2 (DAVEISHAN/TCLR linear_eval/model.py for
    R3D-18; nn_retrieval/model.py build_rpd_encoder_ret for R(2+1)D-18, where the same full 3x3x3
    convolution replaces the factorised one, so that R(2+1)D variant has a 3D convolution there)."""
    block = model.layer4[0]
    first = block.conv1[0]
    if isinstance(first, nn.Conv3d):  # R3D
        channels_in, channels_out = first.in_channels, first.out_channels
    else:  # R(2+1)D: a Conv2Plus1D (spatial conv, BN, ReLU, temporal conv)
        channels_in, channels_out = first[0].in_channels, first[3].out_channels
    block.conv1[0] = nn.Conv3d(
        channels_in, channels_out, (3, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), dilation=(2, 1, 1), bias=False
    )
    down = block.downsample[0]
    block.downsample[0] = nn.Conv3d(down.in_channels, down.out_channels, 1, stride=(1, 2, 2), bias=False)
    _init_like_torchvision(block)


@register("r3d_18")
def r3d_18(width: float = 1.0, keep_time_in_layer4: bool = False) -> nn.Module:
    model = VideoResNetBackbone(tv_video.BasicBlock, [tv_video.Conv3DSimple] * 4, [2, 2, 2, 2], _r3d_stem, width)
    if keep_time_in_layer4:
        _keep_time_in_layer4(model)
    return model


@register("r2plus1d_18")
def r2plus1d_18(width: float = 1.0, keep_time_in_layer4: bool = False) -> nn.Module:
    model = VideoResNetBackbone(
        tv_video.BasicBlock, [tv_video.Conv2Plus1D] * 4, [2, 2, 2, 2], lambda c: _r2plus1d_stem(c, width), width
    )
    if keep_time_in_layer4:
        _keep_time_in_layer4(model)
    return model


class HaraBasicBlock(nn.Module):
    """Two 3x3x3 convolutions with BatchNorm and a residual; 2D ResNet child names (conv1, bn1, ...)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:  # shortcut type B: a strided 1x1x1 projection
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm3d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class HaraResNet3D(nn.Module):
    """The 3D ResNet of Hara et al.'s 3D-ResNets-PyTorch, which VTDL trains and releases as ``r3d``
    (src/model/r3d.py, resnet18): a 7x7x7 stem of spatial stride 2, a 3x3x3 max-pool of stride 2,
    and stride 2 in every dimension from layer2 on, so 16 frames end in 1 time step. It is not
    torchvision's R3D-18 (3x7x7 stem, no max-pool); its key names are the release's."""

    def __init__(self, layers: Sequence[int] = (2, 2, 2, 2), width: float = 1.0) -> None:
        super().__init__()
        planes = [scaled(c, width) for c in (64, 128, 256, 512)]
        self.conv1 = nn.Conv3d(3, planes[0], 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        inplanes = planes[0]
        for i, count in enumerate(layers):
            blocks = [HaraBasicBlock(inplanes, planes[i], stride=1 if i == 0 else 2)]
            blocks += [HaraBasicBlock(planes[i], planes[i]) for _ in range(count - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes[i]
        self.dim = inplanes
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return _pool_space(self.layer4(self.layer3(self.layer2(self.layer1(x)))))


@register("r3d_18_hara")
def r3d_18_hara(width: float = 1.0) -> nn.Module:
    return HaraResNet3D(width=width)


def tf_same_pads(sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int]) -> list[int]:
    """F.pad amounts for TensorFlow's "SAME" padding of ``sizes`` (T, H, W): the output has
    ceil(n / s) positions and an odd number of padding zeros puts the extra one after."""
    pads = []
    for n, k, s in reversed(list(zip(sizes, kernel, stride))):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Conv3dSame(nn.Conv3d):
    """``nn.Conv3d`` padded as TensorFlow's "SAME" (input-size dependent; create with padding=0)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, tf_same_pads(x.shape[2:], self.kernel_size, self.stride)))


class MaxPool3dSame(nn.MaxPool3d):
    """``nn.MaxPool3d`` padded as TensorFlow's "SAME" (padding never wins the maximum)."""

    def forward(self, x: Tensor) -> Tensor:
        pads = tf_same_pads(x.shape[2:], self.kernel_size, self.stride)
        return super().forward(F.pad(x, pads, value=float("-inf")))


class SlowBottleneck(nn.Module):
    """Model Garden's BottleneckBlock3D (official/vision/modeling/layers/nn_blocks_3d.py): a temporal
    (t x 1 x 1) convolution, a spatial 1x3x3 one carrying the stride, a 1x1x1 expansion, and a
    strided 1x1x1 projection shortcut where the channels change."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, temporal_kernel: int) -> None:
        super().__init__()
        t = temporal_kernel
        self.conv1 = nn.Conv3d(inplanes, planes, (t, 1, 1), padding=(t // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        if stride == 1:
            self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), padding=(0, 1, 1), bias=False)
        else:
            self.conv2 = Conv3dSame(planes, planes, (1, 3, 3), stride=(1, stride, stride), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, planes * 4, 1, stride=(1, stride, stride), bias=False), nn.BatchNorm3d(planes * 4)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class SlowOnlyResNet50(nn.Module):
    """CVRL's 3D ResNet-50, computed as Model Garden's ResNet3D-50 with the video_ssl block specs
    (official/vision/modeling/backbones/resnet_3d.py; configs/experiments/cvrl_pretrain_k600_200ep.yaml):
    a 5x7x7 stem of temporal stride 2, temporal kernels only in res4 and res5, no temporal stride
    after the stem, and TensorFlow's "SAME" padding where a stride is 2, so that the released
    TensorFlow weights give the same outputs here. Its BatchNorm (epsilon 1e-5, Keras momentum 0.9)
    is PyTorch's default (official/vision/configs/video_classification.py, the kinetics experiments'
    norm_activation, which video_ssl's configs extend)."""

    def __init__(self, width: float = 1.0, layers: Sequence[int] = (3, 4, 6, 3)) -> None:
        super().__init__()
        base = scaled(64, width)
        self.stem = nn.Sequential(
            Conv3dSame(3, base, (5, 7, 7), stride=(2, 2, 2), bias=False),
            nn.BatchNorm3d(base),
            nn.ReLU(inplace=True),
            MaxPool3dSame((1, 3, 3), stride=(1, 2, 2)),
        )
        inplanes = base
        for i, count in enumerate(layers):
            planes = scaled(64 * 2**i, width)
            blocks = []
            for j in range(count):
                blocks.append(
                    SlowBottleneck(
                        inplanes, planes, stride=2 if (i > 0 and j == 0) else 1, temporal_kernel=3 if i >= 2 else 1
                    )
                )
                inplanes = planes * 4
            setattr(self, f"res{i + 2}", nn.Sequential(*blocks))
        self.dim = inplanes
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        return _pool_space(self.res5(self.res4(self.res3(self.res2(x)))))


@register("r3d_50")
def r3d_50(width: float = 1.0) -> nn.Module:
    return SlowOnlyResNet50(width)


# ----------------------------------------------------------------------------------------------
# C3D, I3D, S3D
# ----------------------------------------------------------------------------------------------


class C3D(nn.Module):
    """C3D's 8 convolutions (3x3x3, with BatchNorm as in VCOP/PRP and VTDL) and 5 poolings; the fc6/fc7
    layers of the 2015 classifier are not part of the backbone."""

    PLAN = [(64,), "pool1", (128,), "pool", (256, 256), "pool", (512, 512), "pool", (512, 512)]

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        layers, inplanes = [], 3
        for step in self.PLAN:
            if step == "pool1":
                layers.append(nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)))
            elif step == "pool":
                layers.append(nn.MaxPool3d(2, stride=2))
            else:
                for planes in step:
                    planes = scaled(planes, width)
                    layers += [nn.Conv3d(inplanes, planes, 3, padding=1), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)]
                    inplanes = planes
        self.features = nn.Sequential(*layers)
        self.dim = inplanes
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        return _pool_space(self.features(x))


@register("c3d")
def c3d(width: float = 1.0) -> nn.Module:
    return C3D(width)


# Inception-v1 blocks as in I3D and S3D: (b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out).
INCEPTION_BLOCKS = {
    "3b": (64, 96, 128, 16, 32, 32),
    "3c": (128, 128, 192, 32, 96, 64),
    "4b": (192, 96, 208, 16, 48, 64),
    "4c": (160, 112, 224, 24, 64, 64),
    "4d": (128, 128, 256, 24, 64, 64),
    "4e": (112, 144, 288, 32, 64, 64),
    "4f": (256, 160, 320, 32, 128, 128),
    "5b": (256, 160, 320, 32, 128, 128),
    "5c": (384, 192, 384, 48, 128, 128),
}


def _block_out(channels):
    return channels[0] + channels[2] + channels[4] + channels[5]


def same_padding(kernel: Sequence[int], stride: Sequence[int]) -> tuple[int, ...]:
    """F.pad amounts for I3D's "SAME" padding: k - s zeros per dimension, the odd one after (the
    original TensorFlow I3D's rule for sizes divisible by the stride), last dimension first."""
    pads = []
    for k, s in reversed(list(zip(kernel, stride))):
        total = max(k - s, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


class SameConvUnit(nn.Module):
    """I3D's unit: SAME-padded convolution without bias, BatchNorm, ReLU. Child names ``conv3d`` and
    ``batch3d`` are those of the PyTorch I3D port VTDL releases (src/model/i3d.py, ``Unit3Dpy``)."""

    def __init__(self, in_planes: int, out_planes: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1)) -> None:
        super().__init__()
        self.pad = same_padding(kernel, stride)
        self.conv3d = nn.Conv3d(in_planes, out_planes, kernel, stride=stride, bias=False)
        self.batch3d = nn.BatchNorm3d(out_planes)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.batch3d(self.conv3d(F.pad(x, self.pad))))


class SameMaxPool(nn.Module):
    """Max-pooling after zero SAME padding, partial windows kept (ceil mode), as I3D pools."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, same_padding(kernel, stride)

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool3d(F.pad(x, self.pad), self.kernel, self.stride, ceil_mode=True)


class MixedBlock(nn.Module):
    """I3D's inflated Inception block: four branches concatenated, full 3x3x3 convolutions."""

    def __init__(
        self, in_planes: int, b0_out: int, b1_mid: int, b1_out: int, b2_mid: int, b2_out: int, b3_out: int
    ) -> None:
        super().__init__()
        self.branch_0 = SameConvUnit(in_planes, b0_out)
        self.branch_1 = nn.Sequential(SameConvUnit(in_planes, b1_mid), SameConvUnit(b1_mid, b1_out, (3, 3, 3)))
        self.branch_2 = nn.Sequential(SameConvUnit(in_planes, b2_mid), SameConvUnit(b2_mid, b2_out, (3, 3, 3)))
        self.branch_3 = nn.Sequential(SameMaxPool((3, 3, 3), (1, 1, 1)), SameConvUnit(in_planes, b3_out))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], 1)


class I3D(nn.Module):
    """I3D (Carreira and Zisserman) with the original's SAME padding and the module names of the
    PyTorch port VTDL trains and releases (src/model/i3d.py), so its weights load as they are:
    16 frames end in 2 time steps, 224 px in 7x7."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        w = lambda c: scaled(c, width)  # noqa: E731
        self.conv3d_1a_7x7 = SameConvUnit(3, w(64), (7, 7, 7), (2, 2, 2))
        self.maxPool3d_2a_3x3 = SameMaxPool((1, 3, 3), (1, 2, 2))
        self.conv3d_2b_1x1 = SameConvUnit(w(64), w(64))
        self.conv3d_2c_3x3 = SameConvUnit(w(64), w(192), (3, 3, 3))
        self.maxPool3d_3a_3x3 = SameMaxPool((1, 3, 3), (1, 2, 2))
        pools = {"4b": SameMaxPool((3, 3, 3), (2, 2, 2)), "5b": SameMaxPool((2, 2, 2), (2, 2, 2))}
        self.stages = []  # (pool or None, block name) in order
        inplanes = w(192)
        for name, channels in INCEPTION_BLOCKS.items():
            pool = pools.get(name)
            if pool is not None:
                setattr(self, f"maxPool3d_{name[0]}a", pool)
            channels = [w(c) for c in channels]
            setattr(self, f"mixed_{name}", MixedBlock(inplanes, *channels))
            self.stages.append((pool, f"mixed_{name}"))
            inplanes = _block_out(channels)
        self.dim = inplanes
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxPool3d_2a_3x3(self.conv3d_1a_7x7(x))
        x = self.maxPool3d_3a_3x3(self.conv3d_2c_3x3(self.conv3d_2b_1x1(x)))
        for pool, name in self.stages:
            x = getattr(self, name)(x if pool is None else pool(x))
        return _pool_space(x)


class S3D(nn.Module):
    """torchvision's S3D feature extractor (its blocks and key names, so its Kinetics-400 weights load):
    16 frames end in 2 time steps, 224 px in 7x7."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        norm = lambda c: nn.BatchNorm3d(c, eps=0.001, momentum=0.001)  # noqa: E731 (torchvision's S3D values)
        w = lambda c: scaled(c, width)  # noqa: E731
        layers = [
            tv_s3d.TemporalSeparableConv(3, w(64), 7, 2, 3, norm),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            Conv3dNormActivation(w(64), w(64), kernel_size=1, bias=False, norm_layer=norm),
            tv_s3d.TemporalSeparableConv(w(64), w(192), 3, 1, 1, norm),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ]
        inplanes = w(192)
        for name, channels in INCEPTION_BLOCKS.items():
            if name == "4b":
                layers.append(nn.MaxPool3d(3, stride=2, padding=1))
            elif name == "5b":
                layers.append(nn.MaxPool3d(2, stride=2))
            channels = [w(c) for c in channels]
            layers.append(tv_s3d.SepInceptionBlock3D(inplanes, *channels, norm))
            inplanes = _block_out(channels)
        self.features = nn.Sequential(*layers)
        self.dim = inplanes

    def forward(self, x: Tensor) -> Tensor:
        return _pool_space(self.features(x))


@register("i3d")
def i3d(width: float = 1.0) -> nn.Module:
    return I3D(width)


@register("s3d")
def s3d(width: float = 1.0) -> nn.Module:
    return S3D(width)


# ----------------------------------------------------------------------------------------------
# 2D ResNets applied frame by frame (TCE)
# ----------------------------------------------------------------------------------------------


class FrameResNet(tv_resnet.ResNet):
    """torchvision's ResNet without avgpool/fc, applied to every frame: ``[B, 3, T, H, W]`` ->
    ``[B, D, T, 1, 1]``.

    ``stack_of_differences=F`` instead takes stacks of F consecutive frames, turns them into F-1
    differences (earlier minus later) and feeds them as 3(F-1) channels (TCE's finetuning input):
    ``[B, 3, F, H, W]`` -> ``[B, D, 1, 1, 1]``. ``tile_first_conv`` adapts RGB weights to it.
    """

    def __init__(
        self, block: type[nn.Module], layers: Sequence[int], width: float = 1.0, stack_of_differences: int = 0
    ) -> None:
        nn.Module.__init__(self)  # ResNet's own __init__ would first build the full-width network
        if stack_of_differences == 1:
            raise UserError("stack_of_differences needs at least 2 frames")
        self.stack_of_differences = stack_of_differences
        in_channels = 3 * (stack_of_differences - 1) if stack_of_differences else 3
        planes = [scaled(c, width) for c in (64, 128, 256, 512)]
        # The attributes ResNet._make_layer reads, with torchvision's defaults.
        self._norm_layer, self.dilation, self.groups, self.base_width = nn.BatchNorm2d, 1, 1, 64
        self.inplanes = planes[0]
        self.conv1 = nn.Conv2d(in_channels, planes[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, count in enumerate(layers):
            setattr(self, f"layer{i + 1}", self._make_layer(block, planes[i], count, stride=1 if i == 0 else 2))
        _init_like_torchvision(self)
        self.dim = planes[3] * block.expansion

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        if self.stack_of_differences:
            if t != self.stack_of_differences:
                raise ValueError(f"stack-of-differences input needs {self.stack_of_differences} frames, got {t}")
            frames = (x[:, :, :-1] - x[:, :, 1:]).transpose(1, 2).reshape(b, 3 * (t - 1), h, w)
            steps = 1
        else:
            frames = x.transpose(1, 2).reshape(b * t, c, h, w)
            steps = t
        y = self.maxpool(self.relu(self.bn1(self.conv1(frames))))
        y = self.layer4(self.layer3(self.layer2(self.layer1(y))))
        y = y.mean(dim=(2, 3))  # [B*steps, D]
        return y.view(b, steps, -1).transpose(1, 2)[..., None, None]


def tile_first_conv(weight: Tensor, stack_of_differences: int) -> Tensor:
    """RGB ``conv1`` weights ``[D, 3, k, k]`` -> ``[D, 3(F-1), k, k]`` for stack-of-differences input."""
    return weight.repeat(1, stack_of_differences - 1, 1, 1)


RESNETS_2D = {
    "resnet18": (tv_resnet.BasicBlock, [2, 2, 2, 2]),
    "resnet34": (tv_resnet.BasicBlock, [3, 4, 6, 3]),
    "resnet50": (tv_resnet.Bottleneck, [3, 4, 6, 3]),
    "resnet101": (tv_resnet.Bottleneck, [3, 4, 23, 3]),
    "resnet152": (tv_resnet.Bottleneck, [3, 8, 36, 3]),
}

for _name, (_block, _layers) in RESNETS_2D.items():
    register(_name)(
        lambda width=1.0, stack_of_differences=0, _b=_block, _l=_layers: FrameResNet(
            _b, _l, width, stack_of_differences
        )
    )
