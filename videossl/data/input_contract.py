"""The input contract: how a model's input is made from the loader's uint8 RGB clips.

Datasets yield uint8 RGB clips ``[..., C, T, H, W]``; the contract turns them into the float
tensor a model was trained on, on the model's device. It travels in every checkpoint, so that
evaluation preprocesses exactly as training did (TCLR's reference models take BGR in [0, 1]
without mean/std; others take RGB with ImageNet or Kinetics statistics).

Two input options exist for the synthetic benchmark (docs/design.md, section 2): standardising
each clip per colour channel (global mean/std let random background colours dominate) and
frame differences ("residual" input, which pushes instance discrimination towards motion).
"""

from dataclasses import asdict, dataclass, fields
from typing import Optional, Union

import torch
from torch import Tensor

from videossl.errors import UserError

CHANNEL_ORDERS = ("rgb", "bgr")
VALUE_RANGES = {"0-1": 255.0, "0-255": 1.0}  # divisor of the uint8 values
STANDARDIZE = ("none", "per_clip")
INPUT_MODES = ("rgb", "residual")
# ImageNet statistics (RGB, values in [0, 1]): the input of ImageNet-style 2D backbones (TCE).
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


@dataclass
class InputContract:
    frames: int = 16  # frames per clip
    stride: int = 1  # step between sampled frames
    size: int = 112  # square crop side fed to the model
    channel_order: str = "rgb"
    value_range: str = "0-1"
    mean: Optional[list[float]] = None  # per channel, in the model's channel order and value range
    std: Optional[list[float]] = None
    standardize: str = "none"
    input_mode: str = "rgb"

    def __post_init__(self):
        checks = {
            "channel_order": CHANNEL_ORDERS,
            "value_range": tuple(VALUE_RANGES),
            "standardize": STANDARDIZE,
            "input_mode": INPUT_MODES,
        }
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                value = getattr(self, name)
                raise UserError(f"input contract: {name} must be one of {', '.join(allowed)}, got {value!r}")
        if (self.mean is None) != (self.std is None):
            raise UserError("input contract: give both mean and std, or neither")
        if self.mean is not None:
            self.mean, self.std = [float(v) for v in self.mean], [float(v) for v in self.std]
            if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
                raise UserError("input contract: mean and std need 3 values each, std > 0")
        if self.input_mode == "residual" and self.frames < 2:
            raise UserError("input contract: residual input needs at least 2 frames")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "InputContract":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise UserError(f"input contract: unknown fields {sorted(unknown)} (written by a newer version?)")
        return cls(**values)

    def prepare(self, clips: Tensor, device: Optional[Union[str, torch.device]] = None) -> Tensor:
        """uint8 (or float in 0-255) RGB ``[..., C, T, H, W]`` -> float32 model input on ``device``.

        The uint8 -> float conversion happens after the copy to the device, where it is cheapest."""
        x = clips.to(device, non_blocking=True) if device is not None else clips
        if self.channel_order == "bgr":
            x = x.flip(-4)  # before the conversion: a quarter of the bytes to move
        x = x.to(torch.float32) if x.dtype != torch.float32 else x.clone()
        x.div_(VALUE_RANGES[self.value_range])  # in place: each new full-size buffer costs page faults
        if self.mean is not None:
            shape = (3, 1, 1, 1)
            x.sub_(x.new_tensor(self.mean).view(shape)).div_(x.new_tensor(self.std).view(shape))
        if self.input_mode == "residual":
            # Differences of consecutive frames; the last one is repeated so that T is kept.
            diff = x[..., 1:, :, :] - x[..., :-1, :, :]
            x = torch.cat([diff, diff[..., -1:, :, :]], dim=-3)
        if self.standardize == "per_clip":
            dims = (-3, -2, -1)
            x = (x - x.mean(dim=dims, keepdim=True)) / (x.std(dim=dims, keepdim=True) + 1e-5)
        return x.contiguous()
