"""TCLR's samples: a global clip and its local clips, each in two independently augmented views."""

import torch

from tclr_pretraining.sampling import sample_global_and_local_clips
from videossl.data.transforms import clip_to_cthw, frames_to_clip


class TCLRSampleBuilder:
    """``build_sample`` for ``VideoClipDataset``: 2 views x (1 global + ``num_local`` local) clips.

    Returns ``{"global": [2, C, T, H, W], "local": [2, num_local, C, T, H, W]}``. The window is
    decoded once; each clip of each view draws its own augmentation parameters.
    """

    def __init__(self, transform, clip_frames=16, num_local=4, views=2):
        self.transform = transform
        self.clip_frames = clip_frames
        self.num_local = num_local
        self.views = views

    def __call__(self, reader, rng):
        global_idx, local_idx = sample_global_and_local_clips(reader.num_frames, rng, self.clip_frames,
                                                              self.num_local)
        frames = reader.get_frames(list(global_idx) + list(local_idx.reshape(-1)))
        global_frames = frames[: self.clip_frames]
        local_frames = frames[self.clip_frames:].reshape(self.num_local, self.clip_frames, *frames.shape[1:])

        def augment(clip_frames):
            return clip_to_cthw(self.transform(frames_to_clip(clip_frames), rng))

        global_views, local_views = [], []
        for _ in range(self.views):
            global_views.append(augment(global_frames))
            local_views.append(torch.stack([augment(f) for f in local_frames]))
        return {"global": torch.stack(global_views), "local": torch.stack(local_views)}
