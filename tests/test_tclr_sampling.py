"""TCLR's sample builder returns, in every view, the global clip and the local clips of one window."""

import numpy as np
import torch

from tclr_pretraining.augmentation import tclr_clip_augmentation
from tclr_pretraining.dataset import TCLRSampleBuilder
from tests.helpers import read_index, write_index_video
from videossl.data.input_contract import InputContract
from videossl.data.transforms import Compose, ResizeShortSide
from videossl.video import open_video


def test_views_hold_the_global_and_local_frames(tmp_path):
    path = str(tmp_path / "v.avi")
    write_index_video(path, 100)
    builder = TCLRSampleBuilder(Compose([ResizeShortSide(64)]), clip_frames=8, num_local=4)
    with open_video(path) as reader:
        sample = builder(reader, np.random.default_rng(0))
    clips = sample["clips"]
    assert clips.shape == (2, 5, 3, 8, 64, 64)
    for view in range(2):
        frames = lambda k: [read_index(clips[view, k, :, t].permute(1, 2, 0).numpy()) for t in range(8)]  # noqa
        global_frames = frames(0)
        start = global_frames[0]
        assert global_frames == list(range(start, start + 32, 4))
        for j in range(4):
            assert frames(1 + j) == list(range(start + 8 * j, start + 8 * j + 8))


def test_the_tclr_recipe_makes_uint8_rgb_samples_that_the_contract_turns_into_bgr(tmp_path):
    path = str(tmp_path / "v.avi")
    write_index_video(path, 80, 120, 160)
    builder = TCLRSampleBuilder(tclr_clip_augmentation(32), clip_frames=16, num_local=4)
    with open_video(path) as reader:
        clips = builder(reader, np.random.default_rng(1))["clips"]
    assert clips.shape == (2, 5, 3, 16, 32, 32) and clips.dtype == torch.uint8
    bgr = InputContract(channel_order="bgr").prepare(clips)
    assert bgr.min() >= 0 and bgr.max() <= 1
    # The test frames have a coloured block, so reversing the channels changes them.
    assert torch.equal(bgr, clips.flip(2).float() / 255) and not torch.equal(bgr, clips.float() / 255)
