"""Sampler invariants: inside the video, right counts and strides, method-specific structure."""

import numpy as np
import pytest

from cvrl.sampling import sample_cvrl_clip_pair
from tce.sampling import sample_adjacent_frames
from tclr_pretraining.sampling import sample_global_and_local_clips
from videossl.data.sampling import clip_indices, pad_indices, sample_evenly_spaced_clips, sample_random_clip
from vtdl.sampling import sample_anchor_and_temporal_negative

LENGTHS = [1, 2, 5, 16, 31, 64, 65, 100, 301]


def test_pad_modes():
    assert pad_indices(np.arange(8), 3, "loop").tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert pad_indices(np.arange(8), 3, "mirror").tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    assert pad_indices(np.arange(-2, 5), 3, "clamp").tolist() == [0, 0, 0, 1, 2, 2, 2]
    assert pad_indices(np.arange(4), 1, "mirror").tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("n", LENGTHS)
def test_random_and_evenly_spaced_clips_stay_inside(n, rng):
    for _ in range(200):
        idx = sample_random_clip(n, rng, 16, 2)
        assert idx.shape == (16,) and idx.min() >= 0 and idx.max() < n
        if n >= 31:
            assert np.all(np.diff(idx) == 2)  # long enough: no padding, exact stride
    clips = sample_evenly_spaced_clips(n, 10, 16, 1)
    assert clips.shape == (10, 16) and clips.min() >= 0 and clips.max() < n
    if n >= 16:
        assert clips[0, 0] == 0 and clips[-1, -1] == n - 1


@pytest.mark.parametrize("n", LENGTHS)
def test_tclr_local_clips_tile_the_global_window(n, rng):
    for _ in range(100):
        global_clip, local = sample_global_and_local_clips(n, rng, clip_frames=16, num_local=4)
        assert global_clip.shape == (16,) and local.shape == (4, 16)
        assert global_clip.min() >= 0 and max(global_clip.max(), local.max()) < n
        if n > 64:
            assert np.all(np.diff(global_clip) == 4) and np.all(np.diff(local.reshape(-1)) == 1)
            assert local[0, 0] == global_clip[0] and global_clip[0] + 64 <= n - 1 + 1
            for j in range(4):  # local clip j spans the time of global frames 4j..4j+3
                assert set(global_clip[4 * j : 4 * j + 4]) <= set(local[j])
                assert local[j].min() <= global_clip[4 * j] and global_clip[4 * j + 3] <= local[j].max()


def test_tclr_short_window_is_padded_as_the_release_pads():
    # 57 frames (the shortest video the release keeps): the window starts at 0; the global clip
    # collects frames 0, 4, ..., 56 (15 of them) and appends the collected ones reversed without the
    # last (52); the last local clip collects 48..56 and appends 55, 54, ..., 49
    global_clip, local = sample_global_and_local_clips(57, np.random.default_rng(0))
    assert global_clip.tolist() == [*range(0, 57, 4), 52]
    assert local[:3].tolist() == [list(range(16 * j, 16 * j + 16)) for j in range(3)]
    assert local[3].tolist() == [*range(48, 57), *range(55, 48, -1)]


def test_cvrl_gap_weights_are_the_release_cdf_differences():
    from cvrl.sampling import decreasing_gap_weights

    d = 4  # F(k) = 2k/4 - k^2/16: F(0..4) = 0, 7/16, 12/16, 15/16, 1
    assert np.allclose(decreasing_gap_weights(d), [7 / 16, 5 / 16, 3 / 16, 1 / 16])


def test_cvrl_gap_follows_the_decreasing_density():
    rng = np.random.default_rng(0)
    n = 130  # D = n - 30 = 100 start positions for 16 frames at stride 2
    draws = 40000
    gaps = np.array([sample_cvrl_clip_pair(n, rng)[2] for _ in range(draws)])
    d = 100
    expected = (2 * (d - np.arange(d)) - 1) / d**2 * draws  # F(g + 1) - F(g), F(k) = 2k/D - k^2/D^2
    counts = np.bincount(gaps, minlength=d)
    bins = counts.reshape(10, 10).sum(1)
    expected_bins = expected.reshape(10, 10).sum(1)
    assert np.all(np.abs(bins - expected_bins) < 5 * np.sqrt(expected_bins))  # within sampling error
    assert np.all(np.diff(bins) < 0)  # decreasing


@pytest.mark.parametrize("n", [5, 31, 40, 130, 300])
def test_cvrl_pair_stays_inside_and_swaps_half_the_time(n):
    rng = np.random.default_rng(1)
    swapped = distinct = 0
    for _ in range(2000):
        a, b, gap = sample_cvrl_clip_pair(n, rng)
        assert a.min() >= 0 and b.min() >= 0 and max(a.max(), b.max()) < n
        if n >= 31:
            assert abs(int(b[0]) - int(a[0])) == gap
            if gap:  # order is only visible when the clips differ
                distinct += 1
                swapped += int(a[0] > b[0])
    if n >= 40:
        assert 0.45 < swapped / distinct < 0.55
    if n < 31:  # a short video loops
        a, b, _ = sample_cvrl_clip_pair(n, rng)
        assert len(set(a.tolist())) <= n


@pytest.mark.parametrize("n", [2, 3, 10, 64, 100, 300])
def test_vtdl_temporal_negative_never_repeats_the_anchor(n, rng):
    for _ in range(500):
        anchor, negative = sample_anchor_and_temporal_negative(n, rng)
        assert anchor.shape == negative.shape == (16,)
        assert not np.array_equal(anchor, negative)
        assert max(anchor.max(), negative.max()) < n and min(anchor.min(), negative.min()) >= 0


@pytest.mark.parametrize("n", [2, 3, 50])
def test_tce_positive_is_the_next_frame(n, rng):
    for _ in range(300):
        anchor, positive = sample_adjacent_frames(n, rng, gap=1)
        assert positive == anchor + 1 and positive < n


def test_samplers_are_pure(rng):
    a = sample_global_and_local_clips(200, np.random.default_rng(5))
    b = sample_global_and_local_clips(200, np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert clip_indices(3, 4, 2, 100).tolist() == [3, 5, 7, 9]
