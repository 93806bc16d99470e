"""TCLR's samples: a global clip and its local clips, each in two independently augmented views."""

from tclr_pretraining.sampling import sample_global_and_local_clips
from videossl.data.transforms import frames_to_clip, stack_clips


class TCLRSampleBuilder:
    """``build_sample`` for ``VideoClipDataset``: 2 views x (1 global + ``num_local`` local) clips.

    Returns ``{"clips": uint8 RGB [views, 1 + num_local, C, T, H, W]}``: index 0 of the second axis is the
    global clip, 1.. the local clips in time order. The window is decoded once; every clip of
    every view draws its own augmentation parameters.
    """

    def __init__(self, transform, clip_frames=16, num_local=4, views=2):
        self.transform = transform
        self.clip_frames = clip_frames
        self.num_local = num_local
        self.views = views
        self.frames_needed = clip_frames  # a shorter video loops even one local clip

    def __call__(self, reader, rng):
        global_idx, local_idx = sample_global_and_local_clips(reader.num_frames, rng, self.clip_frames, self.num_local)
        frames = reader.get_frames(list(global_idx) + list(local_idx.reshape(-1)))
        per_clip = frames.reshape(1 + self.num_local, self.clip_frames, *frames.shape[1:])
        clips = [
            self.transform(frames_to_clip(clip_frames), rng) for _ in range(self.views) for clip_frames in per_clip
        ]
        out = stack_clips(clips)
        return {"clips": out.view(self.views, 1 + self.num_local, *out.shape[1:])}
