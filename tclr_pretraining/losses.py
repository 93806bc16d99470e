"""TCLR's four loss terms, dot products of unit vectors over a temperature.

Shapes: ``global`` ``[B, V, E]``, ``global_steps`` ``[B, V, L, E]``, ``local`` ``[B, V, L, E]``
with V = 2 views and L = 4 local clips.
"""

import torch
import torch.nn.functional as F

from videossl.engine import distributed
from videossl.losses import nt_xent

TERMS = ("instance_global", "instance_local", "local_local", "global_local")


def instance_global_loss(global_, temperature, gather=False):
    """NT-Xent between the two views' global clips across the batch."""
    return nt_xent(global_[:, 0], global_[:, 1], temperature, gather=gather)


def instance_local_loss(local, temperature, gather=False):
    """NT-Xent over all ordered pairs of distinct (view, local clip) combinations (56 for 2 x 4),
    summed and divided by 4: local clips of one video at different times are positives here."""
    views, clips = local.shape[1:3]
    combos = [(v, c) for v in range(views) for c in range(clips)]
    total = 0.0
    for a in combos:
        for b in combos:
            if a != b:
                total = total + nt_xent(local[:, a[0], a[1]], local[:, b[0], b[1]], temperature, gather=gather)
    return total / 4


def local_local_temporal_loss(local, temperature, processes=1):
    """Per video, NT-Xent of its local clips in view 0 against view 1 (positive: the same clip
    index; negatives: its other clips, both views), summed over the whole batch. Each of
    ``processes`` DDP processes holds a part of the batch and DDP averages gradients, so the part's
    sum is multiplied by ``processes``: the gradient is then that of the sum over every video."""
    return processes * sum(nt_xent(video[0], video[1], temperature) for video in local)


def global_local_temporal_loss(global_steps, local, temperature):
    """Per video and per pairing of a global view with a local view, the L x L similarity between
    the global clip's time steps and the local clips: cross-entropy with the diagonal as target
    over rows and over columns, summed and divided by 2B; added over the 4 view pairings."""
    b, views, clips, _ = local.shape
    target = torch.arange(clips, device=local.device).repeat(2 * b)
    total = 0.0
    for g in range(views):
        for v in range(views):
            sim = global_steps[:, g] @ local[:, v].transpose(1, 2) / temperature  # [B, L, L]
            both = torch.cat([sim, sim.transpose(1, 2)], dim=0).reshape(-1, clips)
            total = total + F.cross_entropy(both, target, reduction="sum") / (2 * b)
    return total


def tclr_loss(outputs, temperature=0.1, weights=None, gather=False):
    """Weighted sum of the four terms (default weights 1) and the unweighted terms for logging.
    ``gather``: the step of a DDP run (negatives from every process, sums over the whole batch)."""
    weights = {name: 1.0 for name in TERMS} | dict(weights or {})
    processes = distributed.world_size() if gather else 1
    terms = {
        "instance_global": instance_global_loss(outputs["global"], temperature, gather),
        "instance_local": instance_local_loss(outputs["local"], temperature, gather),
        "local_local": local_local_temporal_loss(outputs["local"], temperature, processes),
        "global_local": global_local_temporal_loss(outputs["global_steps"], outputs["local"], temperature),
    }
    total = sum(weights[name] * value for name, value in terms.items())
    return total, {name: value.detach() for name, value in terms.items()}


def parse_loss_weights(text):
    """'instance_global=1,local_local=0.5' -> dict; unknown names are an error."""
    weights = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition("=")
        if name not in TERMS or not value:
            raise ValueError(f"--loss_weights: expected NAME=VALUE with NAME in {', '.join(TERMS)}, got {part!r}")
        weights[name] = float(value)
    return weights
