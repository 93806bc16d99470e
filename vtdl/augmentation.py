"""VTDL's clip augmentation and its temporal consistent augmentation (TCA)."""

import torch

from videossl.data.transforms import ColorJitter, Compose, RandomHorizontalFlip, RandomRotation, RandomSquareCrop


# The release resizes the short side to 256 and crops 224 (128 and 112 at 112 px): 0.875 of it.
CROP_OF_SHORT_SIDE = 224 / 256


def vtdl_clip_augmentation(size=224, flip_p=0.0):
    """The release's training transform (src/data/config.py augmentation_config): rotation within
    +-10 degrees -> a square of 0.875 x the short side at a random place, resized to ``size``
    (= resize to 256, random crop 224) -> colour jitter (brightness 0.5, contrast 0.5, saturation
    0.25, hue 0.5; one of them per clip, as the released jitter effectively applies); one set of
    parameters per clip. Its flip is commented out (``flip_p`` 0). The ImageNet normalisation is
    the checkpoint's input contract."""
    return Compose([
        RandomRotation(10),
        RandomSquareCrop(size, side=(CROP_OF_SHORT_SIDE, CROP_OF_SHORT_SIDE)),
        RandomHorizontalFlip(flip_p),
        ColorJitter(brightness=0.5, contrast=0.5, saturation=0.25, hue=0.5, only_one=True),
    ])


def temporal_consistent_augmentation(clips, lam, frame_index):
    """TCA: every frame j of clip b becomes ``(1 - lam) x_j + lam x_s`` with ``s = frame_index[b]``
    (one random frame of the same clip): a static frame is mixed into the whole clip, so every
    temporal difference shrinks by exactly ``1 - lam`` while the motion stays. ``clips``:
    float ``[B, C, T, H, W]``."""
    still = clips[torch.arange(len(clips), device=clips.device), :, frame_index]  # [B, C, H, W]
    return (1 - lam) * clips + lam * still[:, :, None]


def sample_tca(batch_size, frames, tca_max=0.1, generator=None):
    """(lam, frame indices): lam = tca_max x U[0, 1) for the batch, one random frame per clip.
    Drawn from torch's global generator by default, which the engine seeds per epoch and saves
    in checkpoints (a resumed run draws the same values)."""
    lam = tca_max * torch.rand((), generator=generator).item()
    return lam, torch.randint(0, frames, (batch_size,), generator=generator)
