"""VTDL's samples: an anchor clip, its positive (the same frames augmented again) and a temporal
negative (the same video at another time)."""

from videossl.data.transforms import frames_to_clip, stack_clips
from vtdl.sampling import sample_anchor_and_temporal_negative


class VTDLSampleBuilder:
    """``build_sample``: ``{"clips": uint8 RGB [3, C, T, H, W]}``: anchor, positive, temporal negative,
    each with its own augmentation parameters."""

    def __init__(self, transform, frames=16, stride=4):
        self.transform, self.frames, self.stride = transform, frames, stride
        self.frames_needed = frames  # a shorter video repeats frames within a clip

    def __call__(self, reader, rng):
        anchor, negative = sample_anchor_and_temporal_negative(reader.num_frames, rng, self.frames, self.stride)
        decoded = reader.get_frames(list(anchor) + list(negative))
        anchor_frames, negative_frames = frames_to_clip(decoded[: self.frames]), frames_to_clip(decoded[self.frames :])
        clips = [
            self.transform(anchor_frames, rng),
            self.transform(anchor_frames, rng),
            self.transform(negative_frames, rng),
        ]
        return {"clips": stack_clips(clips)}
