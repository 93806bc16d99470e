"""Nearest-neighbour retrieval: test videos query the training videos.

Protocols (what differs between the published evaluations):
- ``tclr`` (DAVEISHAN/TCLR nn_retrieval/complete_retrieval.py, dl_ret.py, parameters_BL.py): 9 clips
  placed as the release places them (``num_modes = 9``, 16 frames at ``fix_skip`` 2), the centre
  0.8 x short side resized to 112; per-video feature = mean over the clips of the backbone map
  before temporal pooling, flattened (D x T'); L2-normalised; cosine similarity.
- ``coclr`` (TengdaHan/CoCLR eval/main_classifier.py test_retrieval, dataset/lmdb_dataset.py):
  a query is the mean over every half-overlapping window of the video of the time-pooled feature,
  a gallery video one random clip (the training set read in training mode); queries and gallery
  are each centred on their own mean, then L2-normalised.
- ``pooled``: mean over clips of the time-pooled feature, L2-normalised (no centring).

Recall@k: a query is a hit when any of its k nearest gallery videos has its class. Ties in
similarity are broken by gallery order, so results are deterministic.
"""

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from videossl.eval.features import flattened, in_chunks, pooled
from videossl.eval.knn import SIMILARITY_BUDGET, top_k
from videossl.types import Device

PROTOCOLS = ("tclr", "coclr", "pooled")
DEFAULT_KS = (1, 5, 10, 20, 50)
# The clips each protocol's features come from (flags left at their defaults take these values).
PROTOCOL_VIEWS = {
    "tclr": {"num_clips": 9, "crop_fraction": 0.8, "clip_starts": "tclr"},
    "coclr": {"clip_starts": "windows", "gallery_clip_starts": "random"},
}


def video_features(maps: Tensor, protocol: str) -> Tensor:
    """float16 maps ``[N, clips, D, T']`` -> per-video features ``[N, F]`` (before normalisation)."""
    per_clip = flattened if protocol == "tclr" else pooled
    return in_chunks(maps, lambda chunk: per_clip(chunk).mean(dim=1))


def normalise_for_retrieval(query: Tensor, gallery: Tensor, protocol: str) -> tuple[Tensor, Tensor]:
    if protocol == "coclr":
        query = query - query.mean(dim=0, keepdim=True)
        gallery = gallery - gallery.mean(dim=0, keepdim=True)
    return F.normalize(query, dim=1), F.normalize(gallery, dim=1)


def nearest_neighbours(
    query: Tensor, gallery: Tensor, k: int, budget: int = SIMILARITY_BUDGET, device: Optional[Device] = None
) -> Tensor:
    """Indices ``[Q, k]`` of the k most similar gallery rows (dot product), ties by gallery order.
    Queries go in chunks of at most ``budget`` similarities, on ``device`` (default: the gallery's)."""
    device = torch.device(device) if device is not None else gallery.device
    gallery = gallery.to(device)
    k = min(k, gallery.shape[0])
    rows = max(1, budget // max(1, gallery.shape[0]))
    out = []
    for start in range(0, query.shape[0], rows):
        _, order = top_k(query[start : start + rows].to(device) @ gallery.T, k)
        out.append(order.cpu())
    return torch.cat(out) if out else torch.zeros((0, k), dtype=torch.long)


def recall_at_k(
    query: Tensor,
    query_labels: Tensor,
    gallery: Tensor,
    gallery_labels: Tensor,
    ks: Sequence[int] = DEFAULT_KS,
    budget: int = SIMILARITY_BUDGET,
    device: Optional[Device] = None,
) -> tuple[dict[int, float], Tensor]:
    """{k: percentage of queries with their class among the k nearest}; k above the gallery size is
    capped at it. Also returns the neighbour indices for pictures."""
    neighbours = nearest_neighbours(query, gallery, max(ks), budget, device)
    hits = gallery_labels[neighbours] == query_labels[:, None]  # [Q, kmax]
    return {k: 100.0 * hits[:, :k].any(dim=1).float().mean().item() for k in ks}, neighbours


def retrieval(
    query_maps: Tensor,
    query_labels: Tensor,
    gallery_maps: Tensor,
    gallery_labels: Tensor,
    protocol: str = "tclr",
    ks: Sequence[int] = DEFAULT_KS,
    device: Optional[Device] = None,
) -> tuple[dict[int, float], Tensor]:
    q = video_features(query_maps, protocol)
    g = video_features(gallery_maps, protocol)
    q, g = normalise_for_retrieval(q, g, protocol)
    return recall_at_k(q, query_labels, g, gallery_labels, ks, device=device)
