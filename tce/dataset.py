"""TCE's samples: a frame, the next frame of the same video (the positive) and the anchor frame,
augmented again and rotated, for the rotation-prediction task."""

import torch

from tce.sampling import sample_adjacent_frames
from videossl.data.transforms import (
    ColorJitter,
    Compose,
    RandomChannelCopy,
    RandomHorizontalFlip,
    Resize,
    frames_to_clip,
    stack_clips,
)


def tce_shared_geometry(size=224, flip_p=0.5):
    """Applied to anchor and positive together: one flip for both, then the frame resized to
    ``size`` x ``size`` (the release scales to 224 x 224 and its 224 crop is then the whole frame:
    datasets/pretraining/__init__.py, SCALE_SIZE = CROP_SIZE = (224, 224))."""
    return Compose([RandomHorizontalFlip(flip_p), Resize(size)])


def tce_frame_colour():
    """Applied to anchor and positive independently, in the release's order: one channel copied
    into all three with p 0.5, then colour jitter 0.5/0.5/0.5/0.25 in random order."""
    return Compose([RandomChannelCopy(0.5), ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25)])


class TCESampleBuilder:
    """``build_sample``: ``{"clips": uint8 RGB [3, C, 1, H, W]`` (anchor, positive, rotated anchor),
    ``"rotation": k}``. The third frame is the anchor frame with a fresh draw of the augmentation,
    turned by k x 90 degrees counter-clockwise (the release transforms it on its own)."""

    def __init__(self, size=224, frame_gap=1, geometry=None, colour=None, flip_p=0.5):
        self.geometry = geometry or tce_shared_geometry(size, flip_p)
        self.colour = colour or tce_frame_colour()
        self.frame_gap = frame_gap
        self.frames_needed = frame_gap + 1  # the anchor and a positive that is another frame

    def __call__(self, reader, rng):
        anchor, positive = sample_adjacent_frames(reader.num_frames, rng, self.frame_gap)
        pair = self.geometry(frames_to_clip(reader.get_frames([anchor, positive])), rng)  # [2, C, H, W]
        frames = [self.colour(pair[k : k + 1], rng) for k in range(2)]
        again = self.colour(self.geometry(frames_to_clip(reader.get_frames([anchor])), rng), rng)
        rotation = int(rng.integers(0, 4))
        frames.append(torch.rot90(again, rotation, dims=(-2, -1)).contiguous())
        return {"clips": stack_clips(frames), "rotation": rotation}
