"""CVRL's temporally consistent clip pair: close clips are likelier than distant ones."""

import numpy as np

from videossl.data.sampling import clip_indices


def decreasing_gap_weights(num_starts):
    """P(gap = g) for g in [0, D), D = ``num_starts``: the density (1 - k / D) integrated over
    [g, g + 1), i.e. F(g + 1) - F(g) with F(k) = 2k/D - k^2/D^2. The release draws k from F by
    inverse CDF and floors it (ops/video_ssl_preprocess_ops.py, sample_ssl_sequence)."""
    weights = 2.0 * (num_starts - np.arange(num_starts, dtype=np.float64)) - 1.0
    return weights / weights.sum()


def sample_cvrl_clip_pair(num_frames, rng, frames=16, stride=2, pad="loop"):
    """Two clips whose starts are ``gap`` apart, as the release samples them.

    D = num_frames - (frames - 1) x stride (num_frames - 30 for 16 frames at stride 2): the gap is
    drawn from ``decreasing_gap_weights(D)``, the first start uniformly in [0, D - gap), and the
    order of the two clips is shuffled. A video of at most (frames - 1) x stride frames gets two
    independent uniform starts in [0, num_frames) and its clips loop. Returns (clip 1 indices,
    clip 2 indices, gap).
    """
    reach = (frames - 1) * stride
    if num_frames > reach:
        num_starts = num_frames - reach
        gap = int(rng.choice(num_starts, p=decreasing_gap_weights(num_starts)))
        first = int(rng.integers(0, num_starts - gap))
        starts = [first, first + gap]
    else:
        starts = [int(rng.integers(0, num_frames)), int(rng.integers(0, num_frames))]
        gap = abs(starts[1] - starts[0])
    if rng.random() < 0.5:
        starts.reverse()
    clips = [clip_indices(s, frames, stride, num_frames, pad) for s in starts]
    return clips[0], clips[1], gap
