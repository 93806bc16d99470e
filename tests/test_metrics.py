"""Average precision and mAP against hand-worked values and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from videossl.eval.metrics import average_precision, mean_average_precision


def test_average_precision_by_hand():
    # ranks: hit (P 1, R 1/2), miss, hit (P 2/3, R 1): AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    # a tie at 0.7 enters as one step: at 0.9 P 0 R 0; at 0.7 P 1/3 R 1/2; at 0.1 P 1/2 R 1
    assert average_precision([0.9, 0.7, 0.7, 0.1], [0, 1, 0, 1]) == pytest.approx(0.5 / 3 + 0.5 * 0.5)
    assert average_precision([0.2, 0.1], [1, 1]) == 1.0
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision([0.3, 0.2], [0, 0])


def test_mean_average_precision_leaves_out_classes_without_positives_and_keeps_empty_videos():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4], [0.7, 0.3, 0.6]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])  # class 2 has no positive; video 2 has no action
    mean, aps, kept = mean_average_precision(scores, labels)
    assert kept.tolist() == [0, 1]
    # class 0: 0.9 hit, 0.7 miss, 0.2 miss -> 1; class 1: 0.8 hit -> 1
    assert aps.tolist() == [1.0, 1.0] and mean == 1.0
    labels[0, 0], labels[2, 0] = 0, 1  # class 0's positive is now the video scoring 0.7: P 1/2 at R 1
    assert mean_average_precision(scores, labels)[1][0] == pytest.approx(0.5)


def test_average_precision_equals_scikit_learn_with_and_without_ties():
    rng = np.random.default_rng(0)
    for trial in range(20):
        labels = rng.random((60, 7)) < 0.2
        labels[0] = True  # every class has a positive
        scores = rng.random((60, 7))
        if trial % 2:
            scores = np.round(scores, 1)  # many ties
        _, aps, _ = mean_average_precision(scores, labels)
        assert aps == pytest.approx(average_precision_score(labels, scores, average=None), abs=1e-12)


def test_classes_without_a_positive_video_are_left_out_as_severe_does():
    rng = np.random.default_rng(1)
    labels = rng.random((40, 6)) < 0.3
    labels[:, [1, 4]] = False
    scores = rng.random((40, 6))
    mean, aps, kept = mean_average_precision(scores, labels)
    assert kept.tolist() == [0, 2, 3, 5]
    reference = average_precision_score(labels[:, kept], scores[:, kept], average=None)
    assert mean == pytest.approx(float(np.mean(reference)), abs=1e-12)


def test_shapes_must_agree_and_scores_be_finite():
    with pytest.raises(ValueError, match="finite"):
        mean_average_precision(np.array([[np.nan], [0.2]]), np.array([[1], [0]]))
    with pytest.raises(ValueError, match="must both be"):
        mean_average_precision(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no class"):
        mean_average_precision(np.zeros((3, 2)), np.zeros((3, 2)))
