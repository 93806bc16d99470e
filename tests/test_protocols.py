"""The published evaluation protocols element by element: TCLR's clip positions and centre crop,
CoCLR's centring of queries and gallery each on its own mean."""

import numpy as np
import torch

from videossl.data.sampling import tclr_evaluation_clips
from videossl.eval.features import centre_fraction_clips
from videossl.eval.retrieval import normalise_for_retrieval


def test_tclr_clips_start_where_the_release_places_them():
    # N = 100: F = 100 - 32 = 68, starts int(linspace(0, 58, 9)) (dl_ret.py), 16 frames at skip 2
    clips = tclr_evaluation_clips(100, 9, 16, 2)
    assert clips[:, 0].tolist() == [0, 7, 14, 21, 29, 36, 43, 50, 58]
    assert (np.diff(clips, axis=1) == 2).all()
    # N = 40: linspace(0, -2, 9); int() truncates -0.25 .. -0.75 to 0, and from -1 on the start
    # is negative, so the clip's own number is used
    assert clips_short_start(40) == [0, 0, 0, 0, 4, 5, 6, 7, 8]
    # N = 30: linspace(0, -12, 9) is negative from the second clip on: start = the clip's number
    assert clips_short_start(30) == [0, 1, 2, 3, 4, 5, 6, 7, 8]


def clips_short_start(num_frames):
    return tclr_evaluation_clips(num_frames, 9, 16, 2)[:, 0].tolist()


def test_tclr_clips_past_the_end_repeat_their_own_frames_in_reverse():
    # N = 30, clip 8 starts at 8: frames 8, 10, ..., 28 exist (11), then the release appends the
    # collected frames reversed without the last: 26, 24, 22, 20, 18
    clip = tclr_evaluation_clips(30, 9, 16, 2)[8]
    assert clip.tolist() == [8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 26, 24, 22, 20, 18]


def test_tclr_crop_is_the_centre_0_8_of_the_short_side_resized():
    # 240 x 320 frames whose pixel value is the column index / 2: the centre 192 x 192 spans
    # columns 64-255, so the crop's left and right edges hold 32 and 127
    frames = np.broadcast_to((np.arange(320) // 2).astype(np.uint8)[None, None, :, None], (1, 2, 240, 320, 3))
    clips = centre_fraction_clips(np.ascontiguousarray(frames), 192, 0.8)  # no resampling at 192
    assert clips.shape == (1, 3, 2, 192, 192)
    assert clips[0, 0, 0, 0, 0].item() == 32 and clips[0, 0, 0, 0, -1].item() == 127
    assert centre_fraction_clips(np.ascontiguousarray(frames), 112, 0.8).shape == (1, 3, 2, 112, 112)


def test_coclr_centres_queries_and_gallery_each_on_its_own_mean():
    query = torch.tensor([[3.0, 1.0], [1.0, 1.0]])  # mean (2, 1)
    gallery = torch.tensor([[10.0, 0.0], [10.0, 2.0], [10.0, 4.0]])  # mean (10, 2)
    q, g = normalise_for_retrieval(query, gallery, "coclr")
    assert torch.allclose(q, torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    assert torch.allclose(g, torch.tensor([[0.0, -1.0], [0.0, 0.0], [0.0, 1.0]]))


def test_middle_clip_starts_at_the_middle_frame_when_the_clip_fits():
    from videossl.data.sampling import middle_clip

    assert middle_clip(200, 64).tolist() == list(range(100, 164))
    assert middle_clip(100, 64).tolist() == list(range(64))  # 50 frames left after the middle: from the start


def test_coclr_windows_are_half_overlapping_from_frame_0():
    from videossl.data.sampling import half_overlapping_windows

    # 32-frame windows (ds 1): starts 15 apart up to N - 32 (lmdb_dataset.py frame_sampler, test mode)
    windows = half_overlapping_windows(80, 32)
    assert windows[:, 0].tolist() == [0, 15, 30, 45] and (np.diff(windows, axis=1) == 1).all()
    # no longer than a window: one clip, its missing leading frames are frame 0
    assert half_overlapping_windows(30, 32)[0].tolist() == [0, 0] + list(range(30))
    assert half_overlapping_windows(10, 4, stride=2)[0].tolist() == [0, 2, 4, 6]


def test_coclr_gallery_clip_is_one_random_window_as_in_training_mode():
    from videossl.data.sampling import random_window

    # frame_sampler in training mode (lmdb_dataset.py:123-131): start uniform in [0, N - 32)
    starts = {int(random_window(80, 32, 1, np.random.default_rng(seed))[0, 0]) for seed in range(400)}
    assert starts == set(range(48))
    assert (np.diff(random_window(80, 32, 1, np.random.default_rng(0))[0]) == 1).all()
    # a short video: one clip shifted by a random offset below the stride, padded with frame 0 on the left
    short = {tuple(random_window(9, 4, 3, np.random.default_rng(seed))[0]) for seed in range(50)}
    assert short == {(0, 0, 3, 6), (0, 1, 4, 7), (0, 2, 5, 8)}


def test_a_varying_number_of_clips_is_averaged_per_video():
    from videossl.eval.features import per_video

    values = torch.tensor([[1.0], [3.0], [10.0], [5.0], [7.0], [9.0]])
    assert per_video(values, torch.tensor([2, 1, 3]), views=1)[:, 0, 0].tolist() == [2.0, 10.0, 7.0]
    assert per_video(values, torch.tensor([3, 3]), views=3).shape == (2, 3, 1)


def test_coclr_retrieval_runs_on_every_window(tiny_synthetic, tmp_path):
    import json

    from nn_retrieval import complete_retrieval
    from tests.test_evaluation import eval_args, tiny_checkpoint

    checkpoint = tiny_checkpoint(tmp_path, "r3d_18")
    args = eval_args(tiny_synthetic, tmp_path / "coclr", checkpoint, "--protocol", "coclr", "--picture_queries", "0")
    assert complete_retrieval.main(args) == 0
    results = json.load(open(tmp_path / "coclr" / "results.json"))
    assert results["protocol"] == "coclr" and results["clip_starts"] == "windows"
    assert results["gallery_clip_starts"] == "random"  # the gallery: one random clip per training video
    assert 0 <= results["metrics"]["R@1"] <= 100
    assert complete_retrieval.main(args) == 0  # the same seeded clips again: the same numbers
    assert json.load(open(tmp_path / "coclr" / "results.json"))["metrics"] == results["metrics"]
