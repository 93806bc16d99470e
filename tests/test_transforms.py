"""Clip-consistent augmentation: one draw per clip, the same for every frame; values as torchvision/PIL."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from tclr_pretraining.augmentation import tclr_clip_augmentation
from videossl.data import transforms as T


def still_clip(frames=8, size=48, seed=0):
    """A clip whose frames are all the same image: any per-frame randomness would show."""
    image = np.random.default_rng(seed).integers(0, 256, (size, size + 16, 3), dtype=np.uint8)
    return T.frames_to_clip(np.repeat(image[None], frames, 0))


RECIPES = {
    "tclr": lambda: tclr_clip_augmentation(32),
    "everything": lambda: T.Compose(
        [
            T.RandomResizedCrop(32, scale=(0.3, 1.0), ratio=(0.5, 2.0)),
            T.RandomHorizontalFlip(0.5),
            T.RandomRotation(10),
            T.ColorJitter(0.8, 0.8, 0.8, 0.2, op_p=0.8, over_clip=True),
            T.RandomGrayscale(0.2),
            T.RandomGaussianBlur(0.5),
            T.RandomSolarize(0.3),
            T.RandomErase(0.5, (4, 8)),
            T.RandomChannelDrop(0.2),
            T.RandomGamma(0.5),
            T.ToFloat(),
        ]
    ),
}


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_parameters_are_drawn_once_per_clip(recipe):
    transform = RECIPES[recipe]()
    outputs = []
    for seed in range(20):
        clip = transform(still_clip(), np.random.default_rng(seed))
        assert clip.shape == (8, 3, 32, 32)
        assert torch.allclose(clip, clip[:1].expand_as(clip))  # every frame got the same parameters
        outputs.append(clip[0])
    # ... and different clips got different parameters.
    assert len({tuple(o.flatten()[:64].tolist()) for o in outputs}) > 15


def test_augmentation_does_not_modify_the_decoded_frames():
    frames = still_clip()
    before = frames.clone()
    transform = RECIPES["everything"]()
    for seed in range(10):
        transform(frames, np.random.default_rng(seed))
    assert torch.equal(frames, before)


def uint8_images(seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (4, 40, 56, 3), dtype=np.uint8)).permute(
        0, 3, 1, 2
    )


@pytest.mark.parametrize("factor", [0.75, 1.25])
def test_colour_ops_match_torchvision(factor):
    clip = uint8_images()
    contiguous = clip.contiguous()
    pairs = [
        (T.adjust_brightness(clip, factor), TF.adjust_brightness(contiguous, factor)),
        (T.adjust_contrast(clip, factor), TF.adjust_contrast(contiguous, factor)),
        (T.adjust_saturation(clip, factor), TF.adjust_saturation(contiguous, factor)),
        (T.to_grayscale(clip), TF.rgb_to_grayscale(contiguous, num_output_channels=3)),
        (T.adjust_gamma(clip, factor), TF.adjust_gamma(contiguous, factor)),
        (T.hflip(clip), TF.horizontal_flip(contiguous)),
    ]
    for ours, theirs in pairs:
        assert ours.shape == theirs.shape and ours.dtype == torch.uint8
        assert (ours.int() - theirs.int()).abs().max() <= 2  # rounding of the 8-bit arithmetic


@pytest.mark.parametrize("shift", [-0.1, -0.05, 0.05, 0.3, 0.5])
def test_hue_is_torchvisions_on_pil_images_exactly(shift):
    from PIL import Image
    from torchvision.transforms import functional as pil_path

    clip = uint8_images(1)
    ours = T.adjust_hue(clip, shift)
    for frame, got in zip(clip, ours):  # the releases turn each frame as a PIL image
        image = Image.fromarray(frame.permute(1, 2, 0).contiguous().numpy())
        expected = np.asarray(pil_path.adjust_hue(image, shift))
        assert np.array_equal(got.permute(1, 2, 0).numpy(), expected)


def test_contrast_over_clip_uses_one_mean():
    clip = uint8_images()
    clip[0] = 0  # a dark first frame changes the clip mean, not the other frames' own means
    per_frame = T.adjust_contrast(clip, 0.5)
    over_clip = T.adjust_contrast(clip, 0.5, over_clip=True)
    assert not torch.equal(per_frame[1], over_clip[1])


def test_to_float_lays_out_memory_for_3d_backbones():
    clip = T.ToFloat()(uint8_images())
    assert clip.shape == (4, 3, 40, 56) and clip.dtype == torch.float32 and clip.max() <= 1
    cthw = T.clip_to_cthw(clip)
    assert cthw.shape == (3, 4, 40, 56) and cthw.data_ptr() == clip.data_ptr()  # no copy


def test_random_resized_crop_box_respects_scale_and_ratio(rng):
    for _ in range(500):
        top, left, h, w = T.random_resized_crop_box(120, 160, rng, scale=(0.3, 1.0), ratio=(0.5, 2.0))
        assert 0 <= top and top + h <= 120 and 0 <= left and left + w <= 160
        assert 0.25 <= h * w / (120 * 160) <= 1.0 and 0.45 <= w / h <= 2.2


def test_square_crop_and_erase_sizes(rng):
    clip = still_clip(2, 64)
    for _ in range(50):
        out = T.RandomErase(p=1.0, size=(9, 18))(clip, rng)
        erased = (out != clip).any(1)[0]  # pixels that changed (zeros where the image was not zero)
        rows, cols = np.nonzero(erased.numpy())
        if len(rows):
            assert rows.max() - rows.min() < 18 and cols.max() - cols.min() < 18
    assert T.RandomSquareCrop(24)(clip, rng).shape == (2, 3, 24, 24)


def test_stack_clips_lays_out_one_buffer_in_the_clips_dtype():
    clips = [uint8_images(s) for s in range(3)]
    # One clip in NCHW memory (not what the crops leave) takes the general path.
    clips.append(uint8_images(3).contiguous())
    out = T.stack_clips(clips)
    assert out.shape == (4, 3, 4, 40, 56) and out.dtype == torch.uint8 and out.is_contiguous()
    for k, clip in enumerate(clips):
        assert torch.equal(out[k], clip.permute(1, 0, 2, 3))
    floats = T.stack_clips([T.ToFloat()(c) for c in clips[:2]])
    assert floats.dtype == torch.float32 and torch.equal(floats[1], clips[1].permute(1, 0, 2, 3).float() / 255)
    with pytest.raises(TypeError, match="one dtype"):
        T.stack_clips([clips[0], T.ToFloat()(clips[1])])


def left_bright_clip(frames=4, size=48):
    """Bright on the left, dark on the right: a mirrored clip is dark on the left."""
    ramp = np.linspace(250, 5, size + 16).astype(np.uint8)
    image = np.repeat(np.repeat(ramp[None, :, None], size, 0), 3, 2)
    return T.frames_to_clip(np.repeat(image[None], frames, 0))


def flip_recipes(flip_p):
    from cvrl.augmentation import cvrl_pair_augmentations
    from videossl.data.augmentations import vtdl_clip_augmentation
    from videossl.data.transforms import RandomHorizontalFlip
    from videossl.eval.classifier import finetune_augmentation

    return {
        "tclr": tclr_clip_augmentation(32, flip_p),
        "cvrl": cvrl_pair_augmentations(32, flip_p)[0],
        "vtdl": vtdl_clip_augmentation(32, flip_p),
        "tce": RandomHorizontalFlip(flip_p),  # TCE's builder flips with exactly this
        "finetune": finetune_augmentation(32, flip_p),
    }


@pytest.mark.parametrize("flip_p, mirrored", [(0.0, 0), (1.0, 30)])
def test_flip_prob_reaches_every_recipe(flip_p, mirrored):
    """--flip_prob 0 is what the synthetic set needs (its classes come in mirror pairs): no recipe
    may flip then; with 1 every clip is flipped."""
    for name, transform in flip_recipes(flip_p).items():
        flips = 0
        for seed in range(30):
            clip = transform(left_bright_clip(), np.random.default_rng(seed)).float().sum(dim=(0, 1, 2))  # [W]
            flips += int(clip[: clip.numel() // 4].mean() < clip[-clip.numel() // 4 :].mean())
        assert flips == mirrored, name


class ScriptedRng:
    """A generator that returns the given draws in order (what each call gets is the test's script)."""

    def __init__(self, draws):
        self.draws = list(draws)

    def random(self):
        return self.draws.pop(0)

    def uniform(self, low, high):
        value = self.draws.pop(0)
        assert low <= value <= high
        return value


@pytest.mark.parametrize("branch", ["contrast first", "contrast last", "no contrast"])
def test_tclr_colour_operations_run_in_the_release_order(branch):
    from tclr_pretraining.augmentation import tclr_colour_operations

    clip = still_clip()
    u = {"contrast first": 0.05, "contrast last": 0.2, "no contrast": 0.9}[branch]
    hsb = [0.1, 0.05, 0.2, 1.2, 0.1, 0.8]  # hue (p .3) +0.05, saturation x1.2, brightness x0.8
    contrast = [0.0, 1.2]  # x1.2 (its own p is 1: the branch decides)
    greyscale = [0.1, 0.5, 0.9]  # u 0.1 < .175: greyscale, then gamma (0.5 < .75) 0.9
    draws = {
        "contrast first": [u, *contrast, *hsb, *greyscale],
        "contrast last": [u, *hsb, *contrast, *greyscale],
        "no contrast": [u, *hsb, *greyscale],
    }[branch]
    rng = ScriptedRng(draws)
    got = tclr_colour_operations()(clip, rng)
    assert not rng.draws
    expected = clip
    if branch == "contrast first":
        expected = T.adjust_contrast(expected, 1.2)
    expected = T.adjust_brightness(T.adjust_saturation(T.adjust_hue(expected, 0.05), 1.2), 0.8)
    if branch == "contrast last":
        expected = T.adjust_contrast(expected, 1.2)
    expected = T.adjust_gamma(T.to_grayscale(expected), 0.9)
    assert torch.equal(got, expected)


def test_colour_operations_on_bgr_frames_use_the_swapped_channels():
    red = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    red[:, 0] = 255  # RGB red; read as BGR it is blue, whose grey level is 0.114 x 255
    assert T.InChannelOrder("rgb", T.Grayscale())(red, None).unique().tolist() == [76]  # 0.299 x 255
    bgr = T.InChannelOrder("bgr", T.Grayscale())(red, None)
    assert bgr.unique().tolist() == [29] and bgr.shape == red.shape
    # channel-symmetric operations are unchanged
    clip = still_clip()
    assert torch.equal(T.InChannelOrder("bgr", T.Grayscale())(T.to_grayscale(clip), None), T.to_grayscale(clip))
