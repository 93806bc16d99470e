"""Backbone registry: ``build_backbone(name, **kwargs)``.

Every backbone takes ``[B, 3, T, H, W]`` and returns a feature map ``[B, D, T', 1, 1]`` (space
average-pooled, time kept) and exposes ``dim`` (D), ``name`` and ``config`` (the constructor
arguments, which checkpoints store so that ``load_backbone`` can rebuild it from the file alone).

torchvision's implementations are reused wherever they exist, and at ``width=1`` the state-dict
keys and shapes equal torchvision's (minus the classifier), so its Kinetics/ImageNet weights load
as they are. ``width`` scales every channel count for tiny CPU versions.
"""

import importlib

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tv_resnet
from torchvision.models.video import resnet as tv_video
from torchvision.ops.misc import Conv3dNormActivation

from videossl.errors import UserError

tv_s3d = importlib.import_module("torchvision.models.video.s3d")

BACKBONES = {}


def register(name):
    def decorate(factory):
        BACKBONES[name] = factory
        return factory
    return decorate


def build_backbone(name, **kwargs):
    """A backbone by registry name; ``kwargs`` go to its constructor and are recorded in ``config``."""
    if name not in BACKBONES:
        raise UserError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
    try:
        model = BACKBONES[name](**kwargs)
    except TypeError as err:
        raise UserError(f"backbone {name}: {err}") from None
    model.name, model.config = name, dict(kwargs)
    return model


def scaled(channels, width):
    return max(1, int(round(channels * width)))


def _init_like_torchvision(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _pool_space(x):
    """``[B, D, T, H, W]`` -> ``[B, D, T, 1, 1]``."""
    return F.adaptive_avg_pool3d(x, (x.shape[2], 1, 1))


# ----------------------------------------------------------------------------------------------
# R3D-18, R(2+1)D-18 (torchvision's VideoResNet) and CVRL's slow-only R3D-50
# ----------------------------------------------------------------------------------------------


class VideoResNetBackbone(tv_video.VideoResNet):
    """torchvision's VideoResNet without avgpool/fc, with channel widths scaled by ``width``."""

    def __init__(self, block, conv_makers, layers, stem, width=1.0, widths=(64, 128, 256, 512)):
        nn.Module.__init__(self)  # VideoResNet's own __init__ would first build the full-width network
        planes = [scaled(c, width) for c in widths]
        self.stem = stem(planes[0])
        self.inplanes = planes[0]
        for i, (conv_maker, count) in enumerate(zip(conv_makers, layers)):
            setattr(self, f"layer{i + 1}", self._make_layer(block, conv_maker, planes[i], count, stride=1 if i == 0 else 2))
        self.dim = planes[3] * block.expansion
        _init_like_torchvision(self)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return _pool_space(x)


def _r3d_stem(channels):
    # torchvision's BasicStem, same child indices (stem.0 conv, stem.1 bn), any width.
    return nn.Sequential(
        nn.Conv3d(3, channels, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(channels), nn.ReLU(inplace=True))


def _r2plus1d_stem(channels, width):
    mid = scaled(45, width)
    return nn.Sequential(
        nn.Conv3d(3, mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
        nn.Conv3d(mid, channels, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(channels), nn.ReLU(inplace=True))


def _keep_time_in_layer4(model):
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
    block.conv1[0] = nn.Conv3d(channels_in, channels_out, (3, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1),
                               dilation=(2, 1, 1), bias=False)
    down = block.downsample[0]
    block.downsample[0] = nn.Conv3d(down.in_channels, down.out_channels, 1, stride=(1, 2, 2), bias=False)
    _init_like_torchvision(block)


@register("r3d_18")
def r3d_18(width=1.0, keep_time_in_layer4=False):
    model = VideoResNetBackbone(tv_video.BasicBlock, [tv_video.Conv3DSimple] * 4, [2, 2, 2, 2], _r3d_stem, width)
    if keep_time_in_layer4:
        _keep_time_in_layer4(model)
    return model


@register("r2plus1d_18")
def r2plus1d_18(width=1.0, keep_time_in_layer4=False):
    model = VideoResNetBackbone(tv_video.BasicBlock, [tv_video.Conv2Plus1D] * 4, [2, 2, 2, 2],
                                lambda c: _r2plus1d_stem(c, width), width)
    if keep_time_in_layer4:
        _keep_time_in_layer4(model)
    return model


class SlowBottleneck(nn.Module):
    """ResNet-50 bottleneck whose first 1x1 becomes 3x1x1 where temporal kernels are used (slow pathway)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride, temporal_kernel):
        super().__init__()
        t = temporal_kernel
        self.conv1 = nn.Conv3d(inplanes, planes, (t, 1, 1), padding=(t // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv3d(inplanes, planes * 4, 1, stride=(1, stride, stride), bias=False),
                                            nn.BatchNorm3d(planes * 4))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class SlowOnlyResNet50(nn.Module):
    """CVRL's 3D ResNet-50 (slow-only pathway of SlowFast): 5x7x7 stem with temporal stride 2,
    temporal kernels only in res4 and res5, no temporal downsampling after the stem."""

    def __init__(self, width=1.0, layers=(3, 4, 6, 3)):
        super().__init__()
        base = scaled(64, width)
        self.stem = nn.Sequential(
            nn.Conv3d(3, base, (5, 7, 7), stride=(2, 2, 2), padding=(2, 3, 3), bias=False),
            nn.BatchNorm3d(base), nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
        inplanes = base
        for i, count in enumerate(layers):
            planes = scaled(64 * 2 ** i, width)
            blocks = []
            for j in range(count):
                blocks.append(SlowBottleneck(inplanes, planes, stride=2 if (i > 0 and j == 0) else 1,
                                             temporal_kernel=3 if i >= 2 else 1))
                inplanes = planes * 4
            setattr(self, f"res{i + 2}", nn.Sequential(*blocks))
        self.dim = inplanes
        _init_like_torchvision(self)

    def forward(self, x):
        x = self.stem(x)
        return _pool_space(self.res5(self.res4(self.res3(self.res2(x)))))


@register("r3d_50")
def r3d_50(width=1.0):
    return SlowOnlyResNet50(width)


# ----------------------------------------------------------------------------------------------
# C3D, I3D, S3D
# ----------------------------------------------------------------------------------------------


class C3D(nn.Module):
    """C3D's 8 convolutions (3x3x3, with BatchNorm as in VCOP/PRP and VTDL) and 5 poolings; the fc6/fc7
    layers of the 2015 classifier are not part of the backbone."""

    PLAN = [(64,), "pool1", (128,), "pool", (256, 256), "pool", (512, 512), "pool", (512, 512)]

    def __init__(self, width=1.0):
        super().__init__()
        layers, inplanes, block = [], 3, 1
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
                block += 1
        self.features = nn.Sequential(*layers)
        self.dim = inplanes
        _init_like_torchvision(self)

    def forward(self, x):
        return _pool_space(self.features(x))


@register("c3d")
def c3d(width=1.0):
    return C3D(width)


# Inception-v1 blocks as in I3D and S3D: (b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out).
INCEPTION_BLOCKS = {
    "3b": (64, 96, 128, 16, 32, 32), "3c": (128, 128, 192, 32, 96, 64),
    "4b": (192, 96, 208, 16, 48, 64), "4c": (160, 112, 224, 24, 64, 64), "4d": (128, 128, 256, 24, 64, 64),
    "4e": (112, 144, 288, 32, 64, 64), "4f": (256, 160, 320, 32, 128, 128),
    "5b": (256, 160, 320, 32, 128, 128), "5c": (384, 192, 384, 48, 128, 128),
}


def _conv_bn(in_planes, out_planes, kernel, stride=1, padding=0, norm_layer=None):
    return Conv3dNormActivation(in_planes, out_planes, kernel_size=kernel, stride=stride, padding=padding, bias=False,
                                norm_layer=norm_layer)


class InceptionBlock3D(nn.Module):
    """I3D's inflated Inception block: four branches concatenated, full 3x3x3 convolutions."""

    def __init__(self, in_planes, b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out, norm_layer):
        super().__init__()
        self.branch0 = _conv_bn(in_planes, b0_out, 1, norm_layer=norm_layer)
        self.branch1 = nn.Sequential(_conv_bn(in_planes, b1_mid, 1, norm_layer=norm_layer),
                                     _conv_bn(b1_mid, b1_out, 3, padding=1, norm_layer=norm_layer))
        self.branch2 = nn.Sequential(_conv_bn(in_planes, b2_mid, 1, norm_layer=norm_layer),
                                     _conv_bn(b2_mid, b2_out, 3, padding=1, norm_layer=norm_layer))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1),
                                     _conv_bn(in_planes, b3_out, 1, norm_layer=norm_layer))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Inception3D(nn.Module):
    """I3D (``separable=False``) and S3D (``separable=True``, torchvision's S3D blocks and key names)
    feature extractors: 16 frames end in 2 time steps, 224 px in 7x7."""

    def __init__(self, separable, width=1.0):
        super().__init__()
        norm = lambda c: nn.BatchNorm3d(c, eps=0.001, momentum=0.001)  # noqa: E731 (torchvision's S3D values)
        w = lambda c: scaled(c, width)  # noqa: E731
        if separable:
            stem = [tv_s3d.TemporalSeparableConv(3, w(64), 7, 2, 3, norm)]
            conv2 = tv_s3d.TemporalSeparableConv(w(64), w(192), 3, 1, 1, norm)
            block = tv_s3d.SepInceptionBlock3D
        else:
            stem = [_conv_bn(3, w(64), 7, stride=2, padding=3, norm_layer=norm)]
            conv2 = _conv_bn(w(64), w(192), 3, padding=1, norm_layer=norm)
            block = InceptionBlock3D
        layers = stem + [nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
                         _conv_bn(w(64), w(64), 1, norm_layer=norm), conv2,
                         nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))]
        inplanes = w(192)
        for name, channels in INCEPTION_BLOCKS.items():
            if name == "4b":
                layers.append(nn.MaxPool3d(3, stride=2, padding=1))
            elif name == "5b":
                layers.append(nn.MaxPool3d(2, stride=2))
            channels = [w(c) for c in channels]
            layers.append(block(inplanes, *channels, norm))
            inplanes = channels[0] + channels[2] + channels[4] + channels[5]
        self.features = nn.Sequential(*layers)
        self.dim = inplanes
        if not separable:
            _init_like_torchvision(self)

    def forward(self, x):
        return _pool_space(self.features(x))


@register("i3d")
def i3d(width=1.0):
    return Inception3D(separable=False, width=width)


@register("s3d")
def s3d(width=1.0):
    return Inception3D(separable=True, width=width)


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

    def __init__(self, block, layers, width=1.0, stack_of_differences=0):
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

    def forward(self, x):
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


def tile_first_conv(weight, stack_of_differences):
    """RGB ``conv1`` weights ``[D, 3, k, k]`` -> ``[D, 3(F-1), k, k]`` for stack-of-differences input."""
    return weight.repeat(1, stack_of_differences - 1, 1, 1)


RESNETS_2D = {"resnet18": (tv_resnet.BasicBlock, [2, 2, 2, 2]), "resnet34": (tv_resnet.BasicBlock, [3, 4, 6, 3]),
              "resnet50": (tv_resnet.Bottleneck, [3, 4, 6, 3]), "resnet101": (tv_resnet.Bottleneck, [3, 4, 23, 3]),
              "resnet152": (tv_resnet.Bottleneck, [3, 8, 36, 3])}

for _name, (_block, _layers) in RESNETS_2D.items():
    register(_name)(lambda width=1.0, stack_of_differences=0, _b=_block, _l=_layers: FrameResNet(
        _b, _l, width, stack_of_differences))
