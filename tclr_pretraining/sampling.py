"""TCLR's clips: one global clip and the local clips that tile the same window."""

import numpy as np

from videossl.data.sampling import clip_indices


def sample_global_and_local_clips(num_frames, rng, clip_frames=16, num_local=4, pad="mirror_clip"):
    """A window of ``clip_frames * num_local`` frames (64 in the paper), start uniform in [0, N - 64)
    (0 in a shorter video).

    The global clip takes every ``num_local``-th frame of the window (16 frames at stride 4); the
    local clips cut the window into ``num_local`` consecutive clips of ``clip_frames`` frames, so
    local clip j covers the time of global frames ``j*g .. (j+1)*g - 1`` with
    ``g = clip_frames // num_local``. Returns (global ``[clip_frames]``, local
    ``[num_local, clip_frames]``). A clip that runs past the end of a short video is padded with
    its own frames in reverse (the release's padding, ``clip_indices`` "mirror_clip").
    """
    window = clip_frames * num_local
    start = int(rng.integers(0, max(num_frames - window, 1)))
    global_clip = clip_indices(start, clip_frames, num_local, num_frames, pad)
    local_clips = np.stack(
        [clip_indices(start + j * clip_frames, clip_frames, 1, num_frames, pad) for j in range(num_local)]
    )
    return global_clip, local_clips
