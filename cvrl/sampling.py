"""CVRL's temporally consistent clip pair: close clips are likelier than distant ones."""

import numpy as np

from videossl.data.sampling import clip_indices, clip_span


def sample_decreasing_gap(num_starts, rng):
    """A gap in [0, D) with probability proportional to (1 - gap / D), D = ``num_starts``."""
    weights = num_starts - np.arange(num_starts, dtype=np.float64)
    return int(rng.choice(num_starts, p=weights / weights.sum()))


def sample_cvrl_clip_pair(num_frames, rng, frames=16, stride=2, pad="loop"):
    """Two clips whose starts are ``gap`` apart, the gap drawn from the decreasing density.

    D is the number of positions a clip fits in (num_frames - 30 for 16 frames at stride 2);
    a video shorter than one clip uses D = num_frames and its clips loop. The first start is
    uniform in [0, D - gap) and the order of the two clips is swapped with probability 1/2.
    Returns (clip 1 indices, clip 2 indices, gap).
    """
    span = clip_span(frames, stride)
    num_starts = num_frames - span + 1 if num_frames >= span else num_frames
    gap = sample_decreasing_gap(num_starts, rng)
    first = int(rng.integers(0, num_starts - gap))
    starts = [first, first + gap]
    if rng.random() < 0.5:
        starts.reverse()
    clips = [clip_indices(s, frames, stride, num_frames, pad) for s in starts]
    return clips[0], clips[1], gap
