"""Clip-consistent augmentation on whole clips ``[T, C, H, W]``.

Each transform is called as ``transform(clip, rng)`` with a ``numpy.random.Generator``: it draws
its parameters once and applies them to every frame of the clip, so the clip stays temporally
coherent. Augmentation works on uint8: geometry first (crop by slicing, then one antialiased
resize of the small crop), then flips, colour and erasing, all frames at once. A sample's clips
are stacked into one uint8 ``[N, C, T, H, W]`` tensor (``stack_clips``) and stay uint8 until they
reach the model's device, where ``videossl.data.input_contract.InputContract`` turns them into the
model's input (float range, channel order, mean/std): a quarter of the bytes through the loader's
worker queues and the host-to-device copy, and the same conversion for training and evaluation.
Each method composes its own recipe from these pieces; ``Compose``, ``OneOf`` and ``Maybe``
combine them.

Measured on one CPU thread for a 16x112x112 clip: resizing the uint8 crop while it is still in
the decoder's channels-last layout is 5x faster than in NCHW, and the same layout is OpenCV's
HWC, so colour operations run on it without copies. Transforms never modify their input in
place: the decoded frames are shared between clips.
"""

import math
from collections.abc import Iterable, Sequence
from typing import Callable, Union

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch import Tensor
from torchvision.transforms import InterpolationMode

# a transform takes a clip [T, C, H, W] and the sample's generator
Transform = Callable[[Tensor, np.random.Generator], Tensor]
Pair = tuple[float, float]
Size = Union[int, tuple[int, int]]


def frames_to_clip(frames: np.ndarray) -> Tensor:
    """uint8 ``[T, H, W, 3]`` numpy frames -> uint8 tensor ``[T, 3, H, W]`` (a view, no copy)."""
    return torch.from_numpy(np.asarray(frames)).permute(0, 3, 1, 2)


def clip_to_cthw(clip: Tensor) -> Tensor:
    """``[T, C, H, W]`` -> contiguous ``[C, T, H, W]``, the layout 3D backbones take."""
    return clip.permute(1, 0, 2, 3).contiguous()


def stack_clips(clips: Sequence[Tensor]) -> Tensor:
    """The clips of one sample (``[T, C, H, W]``, one dtype) -> one ``[N, C, T, H, W]`` tensor of that dtype.

    uint8 clips in the channels-last memory the crops leave are de-interleaved by OpenCV straight
    into the output (measured on one thread, 10 clips of 16x112x112: 2.7 ms, against 5.4 ms for a
    strided numpy copy and 13.7 ms for torch's converting copy into float).
    """
    dtypes = {clip.dtype for clip in clips}
    if len(dtypes) != 1:
        raise TypeError(f"stack_clips needs clips of one dtype, got {sorted(map(str, dtypes))}")
    t, c, h, w = clips[0].shape
    out = torch.empty((len(clips), c, t, h, w), dtype=clips[0].dtype)
    for k, clip in enumerate(clips):
        hwc = clip.permute(0, 2, 3, 1)
        if clip.dtype == torch.uint8 and c <= 4 and hwc.is_contiguous():
            planes = [out[k, ch].numpy().reshape(t * h, w) for ch in range(c)]
            for written, plane in zip(cv2.split(hwc.numpy().reshape(t * h, w, c), planes), planes):
                if written is not plane:  # OpenCV normally writes into the given planes
                    plane[...] = written
        else:
            out[k].copy_(clip.permute(1, 0, 2, 3))
    return out


def _range(value, centre: float = 1.0):
    """A jitter strength s -> (centre - s, centre + s), factors clamped at 0; a pair is used as given."""
    if isinstance(value, (tuple, list)):
        return float(value[0]), float(value[1])
    low = centre - value
    return (max(0.0, low) if centre else low), centre + value


class Compose:
    def __init__(self, transforms: Iterable[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, clip, rng):
        for transform in self.transforms:
            clip = transform(clip, rng)
        return clip

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


class Maybe:
    """Apply ``transform`` with probability ``p``."""

    def __init__(self, p: float, transform: Transform) -> None:
        self.p, self.transform = p, transform

    def __call__(self, clip, rng):
        return self.transform(clip, rng) if rng.random() < self.p else clip


class OneOf:
    """At most one of several transforms: ``[(probability, transform), ...]``, probabilities summing to <= 1."""

    def __init__(self, options: Iterable[tuple[float, Transform]]) -> None:
        self.options = list(options)
        if sum(p for p, _ in self.options) > 1 + 1e-9:
            raise ValueError("OneOf probabilities must sum to at most 1")

    def __call__(self, clip, rng):
        u = rng.random()
        for p, transform in self.options:
            if u < p:
                return transform(clip, rng)
            u -= p
        return clip


# ----------------------------------------------------------------------------------------------
# Geometry (uint8 or float)
# ----------------------------------------------------------------------------------------------


def _resize(clip, size, nearest=False):
    size = [size, size] if isinstance(size, int) else list(size)
    if nearest:  # PIL's Image.NEAREST: the source pixel under each target pixel's centre
        return TF.resize(clip, size, interpolation=InterpolationMode.NEAREST_EXACT, antialias=False)
    return TF.resize(clip, size, interpolation=InterpolationMode.BILINEAR, antialias=True)


def random_resized_crop_box(
    height: int, width: int, rng: np.random.Generator, scale: Pair = (0.08, 1.0), ratio: Pair = (3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop with area fraction in ``scale`` and aspect ratio in ``ratio``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    # Fallback: the largest central crop with an aspect ratio inside the range.
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


class RandomResizedCrop:
    def __init__(self, size: Size, scale: Pair = (0.08, 1.0), ratio: Pair = (3 / 4, 4 / 3)) -> None:
        self.size, self.scale, self.ratio = size, scale, ratio

    def __call__(self, clip, rng):
        top, left, h, w = random_resized_crop_box(clip.shape[-2], clip.shape[-1], rng, self.scale, self.ratio)
        return _resize(clip[..., top : top + h, left : left + w], self.size)

    def __repr__(self) -> str:
        return f"RandomResizedCrop({self.size}, scale={self.scale}, ratio={self.ratio})"


class RandomSquareCrop:
    """A square whose side is U(side) x the short side, anywhere in the frame, resized to ``size``."""

    def __init__(self, size: Size, side: Pair = (0.6, 1.0)) -> None:
        self.size, self.side = size, side

    def __call__(self, clip, rng):
        height, width = clip.shape[-2:]
        s = max(1, int(round(rng.uniform(*self.side) * min(height, width))))
        top, left = int(rng.integers(0, height - s + 1)), int(rng.integers(0, width - s + 1))
        return _resize(clip[..., top : top + s, left : left + s], self.size)

    def __repr__(self) -> str:
        return f"RandomSquareCrop({self.size}, side={self.side})"


class RandomShortSideCrop:
    """The short side resized to a length whose inverse is uniform in 1 / ``scales`` (SlowFast's
    inverse-uniform scale jitter), then a ``size`` square anywhere in the frame."""

    def __init__(self, size: int, scales: Pair) -> None:
        self.size, self.scales = size, scales

    def __call__(self, clip, rng):
        short = max(self.size, int(round(1.0 / rng.uniform(1.0 / self.scales[1], 1.0 / self.scales[0]))))
        clip = ResizeShortSide(short)(clip)
        height, width = clip.shape[-2:]
        top, left = int(rng.integers(0, height - self.size + 1)), int(rng.integers(0, width - self.size + 1))
        return clip[..., top : top + self.size, left : left + self.size]

    def __repr__(self) -> str:
        return f"RandomShortSideCrop({self.size}, scales={self.scales})"


class ResizeShortSide:
    def __init__(self, size: Size) -> None:
        self.size = size

    def __call__(self, clip, rng=None):
        height, width = clip.shape[-2:]
        if height <= width:
            new = (self.size, max(1, int(round(width * self.size / height))))
        else:
            new = (max(1, int(round(height * self.size / width))), self.size)
        return _resize(clip, new)


def crop_positions(height: int, width: int, size: int, num_crops: int) -> list[tuple[int, int]]:
    """Top-left corners of 1 (centre) or 3 (start, centre, end of the long side) square crops."""
    if num_crops == 1:
        return [((height - size) // 2, (width - size) // 2)]
    if num_crops != 3:
        raise ValueError("num_crops must be 1 or 3")
    if width >= height:
        return [((height - size) // 2, left) for left in (0, (width - size) // 2, width - size)]
    return [(top, (width - size) // 2) for top in (0, (height - size) // 2, height - size)]


class Resize:
    """Every frame resized to ``size`` x ``size`` (the aspect ratio is not kept); ``nearest``: as
    PIL's nearest-neighbour resampling, else antialiased bilinear."""

    def __init__(self, size: Size, nearest: bool = False) -> None:
        self.size, self.nearest = size, nearest

    def __call__(self, clip, rng=None):
        return _resize(clip, self.size, self.nearest)


def hflip(clip: Tensor) -> Tensor:
    """Mirror every frame left-right (OpenCV on the HWC view for uint8: 5x faster than torch.flip)."""
    if clip.dtype != torch.uint8:
        return clip.flip(-1)
    return _from_hwc(cv2.flip(_to_hwc(clip), 1), clip.shape[0])


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, clip, rng):
        return hflip(clip) if rng.random() < self.p else clip


class RandomRotation:
    """Rotate every frame by the same angle drawn from [-degrees, degrees]."""

    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __call__(self, clip, rng):
        angle = float(rng.uniform(-self.degrees, self.degrees))
        return TF.rotate(clip, angle, interpolation=InterpolationMode.BILINEAR)


# ----------------------------------------------------------------------------------------------
# Conversion and normalisation
# ----------------------------------------------------------------------------------------------


class ToFloat:
    """uint8 -> a new float32 clip in [0, 1].

    The result is indexed ``[T, C, H, W]`` but laid out in memory as ``[C, T, H, W]``, the layout
    3D backbones take, so that ``clip_to_cthw`` is free: one pass instead of two (0.4 ms instead
    of 2.6 ms for 16x112x112 on one thread).
    """

    def __call__(self, clip, rng=None):
        t, c, h, w = clip.shape
        out = torch.empty((c, t, h, w), dtype=torch.float32).permute(1, 0, 2, 3)
        out.copy_(clip)
        return out.div_(255.0) if clip.dtype == torch.uint8 else out


# ----------------------------------------------------------------------------------------------
# Colour (uint8 clips, before ToFloat)
#
# Like PIL, which the TCLR and TCE reference code used, colour operations work on uint8 and round
# after each operation. They run through OpenCV and lookup tables on an HWC view of the clip
# (``[T*H, W, 3]``, no copy when the clip is channels-last as the crops leave it), and return new
# tensors: the decoded frames they start from are shared between clips.
# ----------------------------------------------------------------------------------------------


def _to_hwc(clip):
    """uint8 ``[T, 3, H, W]`` -> numpy ``[T*H, W, 3]`` (a view for channels-last clips)."""
    if clip.dtype != torch.uint8:
        raise TypeError("colour transforms take uint8 clips: place them before ToFloat")
    t, c, h, w = clip.shape
    return clip.permute(0, 2, 3, 1).contiguous().numpy().reshape(t * h, w, c)


def _from_hwc(array, frames):
    """numpy ``[T*H, W, 3]`` -> uint8 ``[T, 3, H, W]`` (channels-last memory)."""
    rows, w, c = array.shape
    return torch.from_numpy(np.ascontiguousarray(array)).reshape(frames, rows // frames, w, c).permute(0, 3, 1, 2)


def _lut(function):
    return np.clip(np.round(function(np.arange(256, dtype=np.float64))), 0, 255).astype(np.uint8)


def _grey(hwc):
    return cv2.cvtColor(hwc, cv2.COLOR_RGB2GRAY)


def adjust_brightness(clip: Tensor, factor: float) -> Tensor:
    """Blend with black (PIL's ImageEnhance.Brightness)."""
    return _from_hwc(cv2.LUT(_to_hwc(clip), _lut(lambda v: v * factor)), clip.shape[0])


def adjust_contrast(clip: Tensor, factor: float, over_clip: bool = False) -> Tensor:
    """Blend with the mean grey level of each frame (PIL, torchvision) or of the whole clip (CVRL)."""
    hwc = _to_hwc(clip)
    t = clip.shape[0]
    grey = _grey(hwc).reshape(t, -1)
    means = np.full(t, grey.mean()) if over_clip else grey.mean(axis=1)
    frames = hwc.reshape(t, -1, hwc.shape[1], 3)
    out = np.empty_like(frames)
    for k in range(t):
        out[k] = cv2.LUT(frames[k], _lut(lambda v, m=means[k]: factor * v + (1 - factor) * m))
    return _from_hwc(out.reshape(hwc.shape), t)


def adjust_saturation(clip: Tensor, factor: float) -> Tensor:
    """Blend with the grey image (PIL's ImageEnhance.Color, torchvision)."""
    hwc = _to_hwc(clip)
    grey = cv2.cvtColor(_grey(hwc), cv2.COLOR_GRAY2RGB)
    return _from_hwc(cv2.addWeighted(hwc, factor, grey, 1.0 - factor, 0.0), clip.shape[0])


def adjust_hue(clip: Tensor, shift: float) -> Tensor:
    """Rotate the hue by ``shift`` turns (-0.5..0.5) exactly as torchvision does on PIL images (the
    releases' path): PIL's 8-bit HSV, the shift truncated to whole 1/255 turns, wrapping."""
    hsv = Image.fromarray(_to_hwc(clip), "RGB").convert("HSV")  # every frame at once: per pixel
    h, s, v = hsv.split()
    turned = np.asarray(h, dtype=np.uint8) + np.uint8(int(shift * 255) % 256)  # uint8 arithmetic wraps
    rgb = Image.merge("HSV", (Image.fromarray(turned, "L"), s, v)).convert("RGB")
    return _from_hwc(np.array(rgb), clip.shape[0])


def to_grayscale(clip: Tensor) -> Tensor:
    return _from_hwc(cv2.cvtColor(_grey(_to_hwc(clip)), cv2.COLOR_GRAY2RGB), clip.shape[0])


def adjust_gamma(clip: Tensor, gamma: float) -> Tensor:
    return _from_hwc(cv2.LUT(_to_hwc(clip), _lut(lambda v: 255.0 * (v / 255.0) ** gamma)), clip.shape[0])


def solarize(clip: Tensor, threshold: int = 128) -> Tensor:
    return _from_hwc(cv2.LUT(_to_hwc(clip), _lut(lambda v: np.where(v >= threshold, 255 - v, v))), clip.shape[0])


class ColorJitter:
    """Brightness, contrast, saturation and hue, each with its own probability, in random or fixed order.

    Strengths follow torchvision (factor in [1 - s, 1 + s], hue shift in [-h, h] turns) or are
    given as (low, high) pairs. ``op_p`` is the probability of each operation (a number for all);
    ``over_clip`` takes the contrast mean over the whole clip instead of per frame (CVRL).
    ``order``: the fixed order (without ``random_order``) of the operations it applies.
    ``only_one``: one of the configured operations is applied, the last of the (random) order, so
    with ``random_order`` each is equally likely (what VTDL's released jitter does: each operation
    is applied to the original frame and only the last one of its shuffled order is kept).
    """

    OPS = ("brightness", "contrast", "saturation", "hue")

    def __init__(
        self,
        brightness: Union[float, Pair] = 0.0,
        contrast: Union[float, Pair] = 0.0,
        saturation: Union[float, Pair] = 0.0,
        hue: Union[float, Pair] = 0.0,
        op_p: Union[float, dict[str, float]] = 1.0,
        random_order: bool = True,
        over_clip: bool = False,
        only_one: bool = False,
        order: Sequence[str] = OPS,
    ) -> None:
        self.ranges = {
            "brightness": _range(brightness) if brightness else None,
            "contrast": _range(contrast) if contrast else None,
            "saturation": _range(saturation) if saturation else None,
            "hue": _range(hue, centre=0.0) if hue else None,
        }
        self.op_p = op_p if isinstance(op_p, dict) else {op: op_p for op in self.OPS}
        self.random_order = random_order
        self.over_clip = over_clip
        self.only_one = only_one
        if sorted(order) != sorted(set(order)) or not set(order) <= set(self.OPS):
            raise ValueError(f"order must name each of {self.OPS} at most once, got {order}")
        self.order = list(order)

    def __call__(self, clip, rng):
        order = list(self.order)
        if self.random_order:
            order = [order[i] for i in rng.permutation(len(order))]
        if self.only_one:
            order = [op for op in order if self.ranges[op] is not None][-1:]
        for op in order:
            bounds = self.ranges[op]
            if bounds is None or rng.random() >= self.op_p.get(op, 0.0):
                continue
            value = float(rng.uniform(*bounds))
            if op == "brightness":
                clip = adjust_brightness(clip, value)
            elif op == "contrast":
                clip = adjust_contrast(clip, value, self.over_clip)
            elif op == "saturation":
                clip = adjust_saturation(clip, value)
            else:
                clip = adjust_hue(clip, value)
        return clip


class InChannelOrder:
    """``transform`` on the clip's channels in ``order``: "rgb" as they are, "bgr" reversed and back
    after. Colour operations written for RGB act differently on BGR frames (the grey weights, the
    hue circle): this reproduces a release that fed BGR frames to them."""

    def __init__(self, order: str, transform: Transform) -> None:
        if order not in ("rgb", "bgr"):
            raise ValueError(f"channel order must be rgb or bgr, got {order!r}")
        self.order, self.transform = order, transform

    def __call__(self, clip, rng):
        if self.order == "rgb":
            return self.transform(clip, rng)
        return self.transform(clip.flip(-3), rng).flip(-3)


class Grayscale:
    def __call__(self, clip, rng=None):
        return to_grayscale(clip)


class RandomGrayscale(Maybe):
    def __init__(self, p: float) -> None:
        super().__init__(p, Grayscale())


class RandomChannelCopy:
    """With probability ``p``, one colour channel (drawn) copied into all three: the "greyscale" of
    TCE's release (datasets/pretraining/augmentation.py, RandomGray: "channel splitting")."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, clip, rng):
        if rng.random() >= self.p:
            return clip
        channel = int(rng.integers(0, clip.shape[1]))
        return clip[:, channel : channel + 1].expand(-1, clip.shape[1], -1, -1).contiguous()


class RandomGamma:
    def __init__(self, p: float = 1.0, gamma: Pair = (0.75, 1.25)) -> None:
        self.p, self.gamma = p, gamma

    def __call__(self, clip, rng):
        if rng.random() >= self.p:
            return clip
        return adjust_gamma(clip, float(rng.uniform(*self.gamma)))


class RandomChannelDrop:
    """Zero one colour channel (the same for every frame) with probability ``p``."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, clip, rng):
        if rng.random() >= self.p:
            return clip
        clip = clip.clone()
        clip[:, int(rng.integers(0, clip.shape[1]))] = 0
        return clip


class RandomErase:
    """A box of ``size`` pixels per side (drawn per side) set to ``value`` in every frame."""

    def __init__(self, p: float = 0.5, size: tuple[int, int] = (9, 18), value: int = 0) -> None:
        self.p, self.size, self.value = p, size, value

    def __call__(self, clip, rng):
        if rng.random() >= self.p:
            return clip
        height, width = clip.shape[-2:]
        h = min(height, int(rng.integers(self.size[0], self.size[1] + 1)))
        w = min(width, int(rng.integers(self.size[0], self.size[1] + 1)))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        clip = clip.clone()
        clip[..., top : top + h, left : left + w] = self.value
        return clip


class RandomGaussianBlur:
    """Gaussian blur of every frame with one sigma in ``sigma``; kernel ~10% of the side (SimCLR, CVRL)."""

    def __init__(self, p: float = 0.5, sigma: Pair = (0.1, 2.0), kernel_fraction: float = 0.1) -> None:
        self.p, self.sigma, self.kernel_fraction = p, sigma, kernel_fraction

    def __call__(self, clip, rng):
        if rng.random() >= self.p:
            return clip
        kernel = max(3, int(self.kernel_fraction * min(clip.shape[-2:])) // 2 * 2 + 1)
        sigma = float(rng.uniform(*self.sigma))
        frames = clip.permute(0, 2, 3, 1).contiguous().numpy()
        out = np.stack([cv2.GaussianBlur(f, (kernel, kernel), sigma, borderType=cv2.BORDER_REFLECT) for f in frames])
        return torch.from_numpy(out).permute(0, 3, 1, 2)


class RandomSolarize:
    def __init__(self, p: float = 0.2, threshold: int = 128) -> None:
        self.p, self.threshold = p, threshold

    def __call__(self, clip, rng):
        return solarize(clip, self.threshold) if rng.random() < self.p else clip
