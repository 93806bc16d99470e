"""TCE's hard-negative schedule: which bank negatives are too similar to the anchor to count."""

import torch


def hard_negative_threshold(epoch, epochs, start=1.0, end=0.5):
    """Negatives whose cosine similarity to the anchor is at or above this value are left out of
    the loss (likely the same action: false negatives). It starts at ``start`` = 1, where every
    negative passes, and decays linearly to ``end`` at the last epoch, leaving out more of the
    most similar negatives as the embedding matures. (The released formula started below every
    similarity and never let a negative through.)"""
    progress = epoch / max(epochs - 1, 1)
    return start + (end - start) * min(max(progress, 0.0), 1.0)


def negatives_below(anchor, negatives, threshold):
    """bool ``[N, K]``: True for the negatives ``[N, K, D]`` that count, those whose similarity to
    their anchor ``[N, D]`` is below ``threshold``; at a threshold of 1 or more, all of them."""
    if threshold >= 1.0:
        return torch.ones(negatives.shape[:2], dtype=torch.bool, device=negatives.device)
    return torch.einsum("nd,nkd->nk", anchor, negatives) < threshold
