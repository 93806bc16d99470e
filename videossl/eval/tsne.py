"""Embeddings over time and their t-SNE maps: PNG plots and trajectory videos.

A video's embedding at frame ``t`` is the time-pooled backbone feature of the clip centred on
``t`` (the checkpoint's input contract sets the clip's frames and stride; a 2D backbone's clip is
the single frame ``t``). Clips are computed every ``step`` frames. Embeddings are reduced with
PCA (at most 50 components) and then t-SNE to two dimensions.
"""

import os
import sys
from collections.abc import Iterator, Sequence
from typing import Optional

import cv2
import matplotlib
import numpy as np
import torch
from torch import nn

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

from videossl.data.input_contract import InputContract  # noqa: E402
from videossl.data.sampling import clip_indices  # noqa: E402
from videossl.errors import UserError  # noqa: E402
from videossl.eval.features import backbone_maps, evaluation_clips  # noqa: E402
from videossl.types import Device  # noqa: E402
from videossl.video import open_video  # noqa: E402
from videossl.video.writer import write_video  # noqa: E402

MIN_POINTS = 5


def sliding_clip_indices(num_frames: int, frames: int, stride: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(positions ``[P]``, indices ``[P, frames]``): one clip per ``step`` frames, centred on its
    position; near the ends the clip is clamped into the video (it never leaves it)."""
    positions = np.arange(0, num_frames, step)
    half = (frames - 1) * stride // 2
    indices = np.stack([clip_indices(p - half, frames, stride, num_frames, pad="clamp") for p in positions])
    return positions, indices


def read_all_frames(path: str, backend: str = "pyav") -> tuple[np.ndarray, float]:
    """uint8 RGB ``[T, H, W, 3]`` and fps of a video file or frame folder."""
    with open_video(path, backend) as reader:
        return reader.get_frames(np.arange(reader.num_frames)), float(reader.fps or 25.0)


def linear_embedding_head(checkpoint: dict) -> Optional[nn.Linear]:
    """The checkpoint's embedding head when it is one linear layer (TCE's 128-d ``fc_contrastive``,
    this project's ``projection`` of a TCE run or of a converted release), else None."""
    heads = checkpoint.get("heads") or {}
    candidates = [
        heads.get("projection") or {},
        {k.split(".", 1)[1]: v for k, v in (heads.get("head") or {}).items() if k.startswith("fc_contrastive.")},
    ]
    for state in candidates:
        if set(state) == {"weight", "bias"} and state["weight"].dim() == 2:
            layer = torch.nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
            layer.load_state_dict(state)
            return layer.eval()
    return None


def embed(features: np.ndarray, head: Optional[nn.Module] = None) -> np.ndarray:
    """Pooled backbone features ``[N, D]`` -> the embeddings t-SNE sees: as they are, or through
    the embedding head and L2-normalised (TCE's t-SNE, visualise_tsne.py)."""
    if head is None:
        return features
    with torch.no_grad():
        return torch.nn.functional.normalize(head(torch.as_tensor(features).float()), dim=1).numpy()


@torch.no_grad()
def embed_video_over_time(
    backbone: nn.Module,
    contract: InputContract,
    frames: np.ndarray,
    device: Device = "cpu",
    precision: str = "fp32",
    step: int = 1,
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(positions ``[P]``, float32 embeddings ``[P, D]``) for uint8 frames ``[T, H, W, 3]``."""
    positions, indices = sliding_clip_indices(len(frames), contract.frames, contract.stride, step)
    backbone = backbone.to(device).eval()
    out = []
    for start in tqdm(range(0, len(indices), batch_size), desc="embeddings", disable=not progress, leave=False):
        clips = evaluation_clips(frames[indices[start : start + batch_size]], contract.size)
        out.append(backbone_maps(backbone, contract, clips, device, precision).mean(dim=-1).cpu())
    return positions, torch.cat(out).numpy()


def tsne_2d(
    embeddings: np.ndarray,
    seed: int = 0,
    perplexity: float = 30.0,
    pca_variance: Optional[float] = None,
    pca_search: str = "exact",
) -> tuple[np.ndarray, float]:
    """``[N, D]`` -> (``[N, 2]`` t-SNE coordinates, KL divergence). PCA first: to at most 50
    dimensions (the usual recipe: faster and less noisy), or with ``pca_variance`` to the fewest
    components that explain that fraction of the variance (TCE: 0.85, utils/tsne_utils.py
    fit_pca); perplexity is capped below N / 3."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise UserError(f"embeddings must be an N x D array, got shape {tuple(x.shape)}")
    n = len(x)
    if n < MIN_POINTS:
        raise UserError(
            f"t-SNE needs at least {MIN_POINTS} embeddings, got {n} (use a longer video or a smaller --step)"
        )
    if not np.isfinite(x).all():
        raise UserError("the embeddings contain NaN or infinite values")
    if x.std(axis=0).sum() <= 1e-9 * max(1.0, float(np.abs(x).max())):
        # PCA divides by the total variance and scikit-learn's t-SNE can crash the process on such input
        print(
            f"warning: all {n} embeddings are the same point (a collapsed or untrained model, or a still "
            f"video): nothing to lay out, every point is drawn at the origin",
            file=sys.stderr,
        )
        return np.zeros((n, 2), np.float32), 0.0
    if pca_variance is not None:
        pca = PCA(svd_solver="full", random_state=seed).fit(x)
        keep = components_for_variance(pca.explained_variance_ratio_, pca_variance, pca_search)
        x = pca.transform(x)[:, : max(2, keep)]
    else:
        components = min(50, n, x.shape[1])
        if components < x.shape[1]:
            x = PCA(n_components=components, random_state=seed).fit_transform(x)
    perplexity = float(min(perplexity, max(1.0, (n - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, learning_rate="auto")
    points = tsne.fit_transform(x)
    return points.astype(np.float32), float(tsne.kl_divergence_)


def components_for_variance(ratios: np.ndarray, fraction: float, search: str = "exact") -> int:
    """The leading PCA components to keep for ``fraction`` of the variance (``ratios``: all of them).

    ``exact``: the fewest whose explained variance reaches ``fraction``. ``release``: TCE's bisection
    (utils/tsne_utils.py:107-146, fit_pca, at 0da560c7) over the fraction of the dimensions, with a
    tolerance of 5% of them: it keeps the last count it tried, which can explain less than
    ``fraction``."""
    cumulative = np.cumsum(ratios)
    if search == "exact":
        return int(min(np.searchsorted(cumulative, fraction - 1e-12) + 1, len(ratios)))
    dims, lower, upper, previous, done = len(ratios), 0.0, 1.0, -1, False
    while not done:
        count = int(dims * (0.5 * (upper - lower) + lower))
        if count == previous:
            count, done = int(upper * dims), True
        previous = count
        if (cumulative[count - 1] if count else 0.0) < fraction:
            lower = count / dims
        else:
            upper = count / dims
        done = done or upper - lower < 0.05
    return count


def _save(fig, path: str):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_over_time(points: np.ndarray, path: str, title: str) -> str:
    """One video: points joined in time order and coloured by time."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(points[:, 0], points[:, 1], color="0.8", linewidth=0.8, zorder=1)
    dots = ax.scatter(points[:, 0], points[:, 1], c=np.arange(len(points)), cmap="viridis", s=14, zorder=2)
    fig.colorbar(dots, ax=ax, label="time (embedding index)")
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_by_group(points: np.ndarray, groups: np.ndarray, names: Sequence[str], path: str, title: str) -> str:
    """Several videos, or a dataset: one colour per group (video or class). A legend for up to 20
    groups; beyond that each group's name is written at its centroid."""
    groups = np.asarray(groups)
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    for g, name in enumerate(names):
        mask = groups == g
        if mask.any():
            ax.scatter(points[mask, 0], points[mask, 1], s=12, color=colours(g % colours.N), label=name)
            if len(names) > 20:
                cx, cy = points[mask].mean(axis=0)
                ax.text(cx, cy, name[:14], fontsize=5, ha="center")
    if len(names) <= 20:
        ax.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _to_canvas(points, size, margin: int = 12):
    lo, hi = points.min(axis=0), points.max(axis=0)
    scale = (size - 2 * margin) / max(float((hi - lo).max()), 1e-6)
    xy = (points - lo) * scale + margin
    xy[:, 1] = size - xy[:, 1]  # image rows grow downwards
    return np.round(xy).astype(np.int32)


def trajectory_frames(
    frames: np.ndarray, positions: np.ndarray, points: np.ndarray, height: int = 240
) -> Iterator[np.ndarray]:
    """Yield one composed RGB frame per input frame: the video on the left; on the right every
    embedding in light grey and the trajectory up to the current frame coloured by time, the
    current point in red."""
    xy = _to_canvas(points, height)
    cmap = plt.get_cmap("viridis")
    colours = [tuple(int(255 * c) for c in cmap(i / max(len(points) - 1, 1))[:3]) for i in range(len(points))]
    base = np.full((height, height, 3), 255, np.uint8)
    for x, y in xy:
        cv2.circle(base, (int(x), int(y)), 2, (215, 215, 215), -1, cv2.LINE_AA)
    width = int(round(frames.shape[2] * height / frames.shape[1]))
    current = 0
    for t, frame in enumerate(frames):
        while current + 1 < len(positions) and positions[current + 1] <= t:
            current += 1
        if current > 0:  # draw the newest segment onto the persistent canvas
            a, b = xy[current - 1], xy[current]
            cv2.line(base, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colours[current], 2, cv2.LINE_AA)
        panel = base.copy()
        cv2.circle(panel, (int(xy[current][0]), int(xy[current][1])), 5, (220, 30, 30), -1, cv2.LINE_AA)
        left = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        yield np.concatenate([left, panel], axis=1)


def write_trajectory_video(
    frames: np.ndarray, positions: np.ndarray, points: np.ndarray, path: str, fps: float = 25.0, height: int = 240
) -> str:
    """An MP4 (or any format ``write_video`` takes) with one frame per input frame."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return write_video(path, trajectory_frames(frames, positions, points, height), fps=max(1.0, fps), bframes=0)
