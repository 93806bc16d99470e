"""VTDL's temporal consistent augmentation (TCA); its clip augmentation is shared with finetuning
(videossl/data/augmentations.py)."""

import torch


def temporal_consistent_augmentation(clips, lam, frame_index):
    """TCA: every frame j of clip b becomes ``(1 - lam) x_j + lam x_s`` with ``s = frame_index[b]``
    (one random frame of the same clip): a static frame is mixed into the whole clip, so every
    temporal difference shrinks by exactly ``1 - lam`` while the motion stays. ``clips``:
    float ``[B, C, T, H, W]``."""
    still = clips[torch.arange(len(clips), device=clips.device), :, frame_index]  # [B, C, H, W]
    return (1 - lam) * clips + lam * still[:, :, None]


def sample_tca(batch_size, frames, tca_max=0.1, generator=None, device=None):
    """(lam, frame indices on ``device``): lam = tca_max x U[0, 1) for the batch, one random frame
    per clip. Drawn from torch's global generators by default (the CPU one for lam, the device's
    for the indices), which the engine seeds per epoch and saves in checkpoints (a resumed run
    draws the same values)."""
    lam = tca_max * torch.rand((), generator=generator).item()
    return lam, torch.randint(0, frames, (batch_size,), generator=generator, device=device)
