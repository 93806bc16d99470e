"""Clip sampling, separate from decoding: (number of frames, rng, parameters) -> frame indices.

Every function here is pure: the same arguments and generator state give the same indices,
and every index it returns lies in [0, num_frames). Videos shorter than a clip are padded by
looping or mirroring, never dropped. Method-specific samplers (TCLR's global and local clips,
CVRL's clip pair, ...) live in their method folders and are built from these pieces.
"""

import numpy as np

PAD_MODES = ("loop", "mirror", "clamp")


def pad_indices(indices: np.ndarray, num_frames: int, mode: str = "loop") -> np.ndarray:
    """Map any integer indices into [0, num_frames): loop (i mod n), mirror (0..n-1..0..) or clamp."""
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    idx = np.asarray(indices, dtype=np.int64)
    if mode == "loop":
        return np.mod(idx, num_frames)
    if mode == "mirror":
        if num_frames == 1:
            return np.zeros_like(idx)
        period = 2 * num_frames - 2
        r = np.mod(idx, period)
        return np.where(r < num_frames, r, period - r)
    if mode == "clamp":
        return np.clip(idx, 0, num_frames - 1)
    raise ValueError(f"pad mode must be one of {PAD_MODES}, got {mode!r}")


def clip_span(frames: int, stride: int) -> int:
    """Number of video frames a clip of ``frames`` frames at ``stride`` covers."""
    return (frames - 1) * stride + 1


def clip_indices(start: int, frames: int, stride: int, num_frames: int, pad: str = "loop") -> np.ndarray:
    """Indices of one clip starting at ``start``, padded into the video (``pad``: a PAD_MODES
    mode, or "mirror_clip": the clip's own frames that exist, then the same in reverse without the
    last, as TCLR's release pads; loop when none exists)."""
    wanted = start + stride * np.arange(frames)
    if pad != "mirror_clip":
        return pad_indices(wanted, num_frames, pad)
    valid = int((wanted < num_frames).sum())
    if valid == 0:
        return pad_indices(wanted, num_frames, "loop")
    return wanted[pad_indices(np.arange(frames), valid, "mirror")]


def random_start(num_frames: int, span: int, rng: np.random.Generator) -> int:
    """A start uniform over the positions where ``span`` frames fit (0 when they do not)."""
    return int(rng.integers(0, max(num_frames - span, 0) + 1))


def sample_random_clip(
    num_frames: int, rng: np.random.Generator, frames: int, stride: int = 1, pad: str = "loop"
) -> np.ndarray:
    """One clip at a uniformly random position: int64 ``[frames]``."""
    start = random_start(num_frames, clip_span(frames, stride), rng)
    return clip_indices(start, frames, stride, num_frames, pad)


def evenly_spaced_starts(num_frames: int, num_clips: int, span: int) -> np.ndarray:
    """``num_clips`` starts spread evenly from the first to the last position a clip fits."""
    last = max(num_frames - span, 0)
    return np.round(np.linspace(0, last, num_clips)).astype(np.int64)


def sample_evenly_spaced_clips(
    num_frames: int, num_clips: int, frames: int, stride: int = 1, pad: str = "loop"
) -> np.ndarray:
    """``num_clips`` clips evenly spaced over the video (evaluation): int64 ``[num_clips, frames]``."""
    starts = evenly_spaced_starts(num_frames, num_clips, clip_span(frames, stride))
    return np.stack([clip_indices(s, frames, stride, num_frames, pad) for s in starts])


def severe_test_clips(num_frames: int, num_clips: int, frames: int, stride: int = 1) -> np.ndarray:
    """SEVERE's dense test clips (action_recognition/datasets/video_db.py:131-135 at 2f99365c):
    starts ``int(linspace(0, max(N - span, 1), num_clips))``, truncated, not rounded; a video no
    longer than one clip gives every clip from its start, looped (its preprocessing's padding)."""
    span = clip_span(frames, stride)
    starts = (
        np.zeros(num_clips, np.int64) if span >= num_frames else np.linspace(0, max(num_frames - span, 1), num_clips)
    )
    return np.stack([clip_indices(int(s), frames, stride, num_frames, "loop") for s in starts])


def tclr_evaluation_clips(num_frames: int, num_clips: int = 9, frames: int = 16, stride: int = 2) -> np.ndarray:
    """TCLR's evaluation clips (nn_retrieval/dl_ret.py, build_clip): clip m starts at
    ``int(linspace(0, F - 10, num_clips)[m])`` with ``F = N - frames x stride`` (m itself when that
    is negative); frames past the end are replaced by the clip's own earlier frames in reverse
    order. int64 ``[num_clips, frames]``."""
    last = num_frames - frames * stride - 10
    starts = np.linspace(0, last, num_clips).astype(np.int64)  # int(): truncation towards zero
    starts = np.where(starts < 0, np.arange(num_clips), starts)
    return np.stack([clip_indices(start, frames, stride, num_frames, "mirror_clip") for start in starts])


def middle_clip(num_frames: int, frames: int, stride: int = 1, pad: str = "loop") -> np.ndarray:
    """One clip from the middle frame on when the rest of the video holds it, else from the first
    frame (the test clip of VTDL's finetuning, placed at the middle instead of at random)."""
    start = num_frames // 2 if num_frames - num_frames // 2 >= clip_span(frames, stride) else 0
    return clip_indices(start, frames, stride, num_frames, pad)


def half_overlapping_windows(num_frames: int, frames: int, stride: int = 1) -> np.ndarray:
    """CoCLR's test clips (dataset/lmdb_dataset.py, frame_sampler in test mode): windows of
    ``frames`` frames at ``stride`` from frame 0 on, whose starts are ``frames x stride // 2 - 1``
    apart, as many as fit in ``num_frames - frames x stride``; a video no longer than that gives
    one clip whose missing leading frames are frame 0. int64 ``[windows, frames]``."""
    reach = frames * stride
    steps = np.arange(frames) * stride
    if num_frames - reach <= 0:
        present = steps[steps < num_frames]
        clip = np.zeros(frames, dtype=np.int64)
        clip[frames - len(present) :] = present
        return clip[None]
    starts = np.arange(0, num_frames - reach + 1, max(reach // 2 - 1, 1))
    return starts[:, None] + steps[None]


def random_window(num_frames: int, frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
    """CoCLR's training-mode clip (dataset/lmdb_dataset.py:123-131, frame_sampler, at 45f200e0): one
    window of ``frames`` frames at ``stride``, its start uniform over ``[0, num_frames - frames x
    stride)``; a video no longer than that gives one clip shifted by a random offset below
    ``stride``, its missing leading frames frame 0. int64 ``[1, frames]``."""
    reach = frames * stride
    steps = np.arange(frames) * stride
    if num_frames - reach <= 0:
        present = steps + rng.integers(stride)
        present = present[present < num_frames]
        clip = np.zeros(frames, dtype=np.int64)
        clip[frames - len(present) :] = present
        return clip[None]
    return (steps + rng.integers(num_frames - reach))[None]
