"""TCE's negatives from the memory bank: drawn uniformly, or mined (the hardest entries below a
similarity threshold that rises during training, the rest drawn uniformly)."""

import math

import torch

NEGATIVE_MODES = ("mined", "release", "random")


def mining_threshold(step, total_steps, mode="mined", low=-1.0, high=1.0, rate=5.0):
    """The similarity at or above which a bank entry is not a negative (likely the same action).

    ``mined``: ``low + (high - low)(1 - exp(-rate s / total))``, rising from -1 (every entry
    masked: the negatives are random) to about 0.987 at the end (only near-duplicates masked).
    ``release``: the released formula (pretrain.py), ``exp(+rate s / total)``, which stays below
    -1 so that every entry is masked and random negatives ran. ``step`` counts from 1 as there."""
    sign = -1.0 if mode == "mined" else 1.0
    return low + (high - low) * (1.0 - math.exp(sign * rate * step / total_steps))


def mine_negatives(anchor, bank, own, count, threshold, generator=None, release_reshape=False):
    """Slot indices ``[N, count]``: for each anchor ``[N, D]``, the ``count`` bank entries most
    similar to it among those below ``threshold`` (its own slot ``own`` never), hardest first;
    when fewer qualify, the rest are drawn uniformly (with replacement) from the other slots that
    are neither its own nor already taken (loss/NCEAverage.py, NCEAverageKineticsMining).
    ``release_reshape``: score against ``bank.view(D, -1)`` as the release does (a reshape of the
    ``[size, D]`` bank, not its transpose: column j is not entry j), for ``--negatives release``."""
    n, size = len(anchor), len(bank)
    rows = torch.arange(n, device=bank.device)
    scored = bank.float().reshape(bank.shape[1], -1) if release_reshape else bank.float().T
    similarity = anchor.float() @ scored  # [N, size]
    allowed = similarity < threshold
    allowed[rows, own] = False
    scores = similarity.masked_fill(~allowed, -math.inf)
    top = scores.topk(count, dim=1)
    hard = top.values > -math.inf  # [N, count], the valid ones come first
    excluded = torch.zeros(n, size, dtype=torch.bool, device=bank.device).scatter_(1, top.indices, hard)
    excluded[rows, own] = True  # neither its own slot nor a hard negative taken already
    weights = (~excluded).float()
    weights[weights.sum(dim=1) == 0] = 1.0  # rows whose negatives are all hard: the draws are unused
    drawn = torch.multinomial(weights, count, replacement=True, generator=generator)
    return torch.where(hard, top.indices, drawn)
