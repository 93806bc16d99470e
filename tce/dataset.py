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


def tce_frame_colour():
    """Applied to anchor and positive independently, in the release's order: one channel copied
    into all three with p 0.5, then colour jitter 0.5/0.5/0.5/0.25 in random order."""
    return Compose([RandomChannelCopy(0.5), ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25)])


class TCESampleBuilder:
    """``build_sample``: ``{"clips": uint8 RGB [3, C, 1, H, W]`` (anchor, positive, rotated anchor),
    ``"rotation": k}``. In the release's order (datasets/pretraining/__init__.py:17-27 at 0da560c7):
    one flip for anchor and positive, the colour operations on each frame at its own resolution,
    then each frame scaled to ``size`` x ``size`` by nearest neighbour (augmentation.py:21, Scale;
    the 224 crop is then the whole frame). The third frame is the anchor frame with a fresh draw of
    the augmentation, turned by k x 90 degrees counter-clockwise (the release transforms it on its
    own)."""

    def __init__(self, size=224, frame_gap=1, flip=None, colour=None, flip_p=0.5):
        self.flip = flip or RandomHorizontalFlip(flip_p)
        self.colour = colour or tce_frame_colour()
        self.scale = Resize(size, nearest=True)
        self.frame_gap = frame_gap
        self.frames_needed = frame_gap + 1  # the anchor and a positive that is another frame

    def augment(self, frame, rng):
        return self.scale(self.colour(frame, rng))

    def __call__(self, reader, rng):
        anchor, positive = sample_adjacent_frames(reader.num_frames, rng, self.frame_gap)
        pair = self.flip(frames_to_clip(reader.get_frames([anchor, positive])), rng)  # [2, C, H, W]
        frames = [self.augment(pair[k : k + 1], rng) for k in range(2)]
        again = self.augment(self.flip(frames_to_clip(reader.get_frames([anchor])), rng), rng)
        rotation = int(rng.integers(0, 4))
        frames.append(torch.rot90(again, rotation, dims=(-2, -1)).contiguous())
        return {"clips": stack_clips(frames), "rotation": rotation}
