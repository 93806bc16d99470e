"""VTDL's anchor clip and its temporal negative (the same video at another time)."""

from videossl.data.sampling import clip_indices, clip_span


def sample_anchor_and_temporal_negative(num_frames, rng, frames=16, stride=4, anchor_range=128, pad="loop"):
    """(anchor indices, temporal negative indices).

    The anchor starts uniformly in [0, max(N - anchor_range, 0)] (the published range); the
    negative starts anywhere a clip fits and, when it lands within 2 frames of the anchor, is
    moved N // 3 frames later (looping), so that it never repeats the anchor's frames for
    videos of two frames or more. The positive is the anchor's own frames, augmented again.
    """
    anchor_start = int(rng.integers(0, max(num_frames - anchor_range, 0) + 1))
    negative_start = int(rng.integers(0, max(num_frames - clip_span(frames, stride), 0) + 1))
    if abs(negative_start - anchor_start) <= 2:
        negative_start = anchor_start + max(num_frames // 3, 1)
    return (clip_indices(anchor_start, frames, stride, num_frames, pad),
            clip_indices(negative_start, frames, stride, num_frames, pad))
