"""CVRL's samples: two clips of one video, close in time more often than far apart."""

from cvrl.sampling import sample_cvrl_clip_pair
from videossl.data.transforms import frames_to_clip, stack_clips


class CVRLSampleBuilder:
    """``build_sample`` for ``VideoClipDataset``: ``{"clips": uint8 RGB [2, C, T, H, W]}``, clip 0
    augmented by ``augmentations[0]`` and clip 1 by ``augmentations[1]``."""

    def __init__(self, augmentations, frames=16, stride=2):
        self.augmentations, self.frames, self.stride = augmentations, frames, stride
        self.frames_needed = frames  # a shorter video repeats frames within a clip

    def __call__(self, reader, rng):
        first, second, _ = sample_cvrl_clip_pair(reader.num_frames, rng, self.frames, self.stride)
        decoded = reader.get_frames(list(first) + list(second))
        clips = [
            augment(frames_to_clip(decoded[k * self.frames : (k + 1) * self.frames]), rng)
            for k, augment in enumerate(self.augmentations)
        ]
        return {"clips": stack_clips(clips)}
