"""VTDL's anchor clip and its temporal negative (the same video at another time)."""

from videossl.data.sampling import clip_indices


def sample_anchor_and_temporal_negative(num_frames, rng, frames=16, stride=4, anchor_range=128, pad="loop"):
    """(anchor indices, temporal negative indices).

    Both start uniformly in [0, max(N - anchor_range, 0)] (the release's range for both,
    src/data/dataset.py get_moco_items); a negative starting less than 2 frames from the anchor is
    moved N // 3 frames later, modulo N (at least 1 frame: the release's shift is 0 for N < 3).
    The positive is the anchor's own frames, augmented again.
    """
    anchor_start = int(rng.integers(0, max(num_frames - anchor_range, 0) + 1))
    negative_start = int(rng.integers(0, max(num_frames - anchor_range, 0) + 1))
    if abs(negative_start - anchor_start) < 2:
        negative_start = (negative_start + max(num_frames // 3, 1)) % max(num_frames, 1)
    return (
        clip_indices(anchor_start, frames, stride, num_frames, pad),
        clip_indices(negative_start, frames, stride, num_frames, pad),
    )
