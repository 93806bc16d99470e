"""Multi-label metrics: average precision per class and its mean (Charades' mAP, as SEVERE reports it).

Average precision is the area under the precision-recall curve as a step function, one step per
distinct score: AP = sum over distinct thresholds t (from the highest) of (R(t) - R(t_prev)) * P(t),
where P and R count every video scoring at least t. Videos with equal scores enter together. The
mean is taken over the classes that have at least one positive video in the evaluated set; a video
with no action is a negative for every class.
"""

import numpy as np


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: ``scores`` [N] (higher = more likely), ``positives`` [N] booleans (>= 1 true)."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    if not positives.any():
        raise ValueError("average precision needs at least one positive video")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite (a diverged model gives NaN)")
    order = np.argsort(-scores, kind="stable")
    scores, positives = scores[order], positives[order]
    true_positives = np.cumsum(positives)
    last_of_tie = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]  # each threshold's last video
    tp = true_positives[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / positives.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(mAP, AP per kept class, indices of the kept classes) of ``scores`` [N, C] against binary
    ``labels`` [N, C]; classes without a positive video are left out of the mean."""
    scores, labels = np.asarray(scores), np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must both be [videos, classes]")
    kept = np.nonzero(labels.any(axis=0))[0]
    if len(kept) == 0:
        raise ValueError("no class has a positive video: mAP is undefined")
    aps = np.array([average_precision(scores[:, c], labels[:, c]) for c in kept])
    return float(aps.mean()), aps, kept
