"""Tests of the boundary F-score metric."""
import pytest
import torch

from mmfeatup.evaluation import BoundaryFScore, boundary_fscore_counts, label_boundaries
from mmfeatup.registry import METRICS


def square(size=20, lo=5, hi=15, shift=0):
    label = torch.zeros(size, size, dtype=torch.long)
    label[lo:hi, lo + shift:hi + shift] = 1
    return label


def test_boundaries_of_a_square():
    edge = label_boundaries(square())
    assert edge[5, 5] and edge[4, 5] and edge[14, 10] and edge[15, 10]
    assert not edge[10, 10] and not edge[0, 0]
    # inner and outer ring of a 10x10 square: 4*10 - 4 inside + 4*10 outside (no corners)
    assert int(edge.sum()) == 36 + 40


def test_ignore_index_is_neither_boundary_nor_breaks_one():
    label = square()
    label[:, :3] = 255
    edge = label_boundaries(label)
    assert not edge[:, :3].any()


def samples(pred, gt):
    return [dict(pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=gt[None]))]


def test_perfect_prediction_scores_100():
    metric = BoundaryFScore(tolerance=1)
    metric.process({}, samples(square(), square()))
    assert metric.compute_metrics(metric.results)['bF'] == pytest.approx(100.0)


def test_shift_within_tolerance_matches_and_beyond_does_not():
    gt = square()
    within = boundary_fscore_counts(square(shift=1), gt, tolerance=2)
    assert within[0] == within[1] and within[2] == within[3]
    beyond = boundary_fscore_counts(square(shift=4), gt, tolerance=1)
    assert beyond[0] < beyond[1] and beyond[2] < beyond[3]


def test_empty_prediction_has_zero_recall_and_fscore():
    metric = BoundaryFScore(tolerance=1)
    metric.process({}, samples(torch.zeros(20, 20, dtype=torch.long), square()))
    scores = metric.compute_metrics(metric.results)
    assert scores['bRecall'] == 0.0 and scores['bF'] == 0.0


def test_relative_tolerance_and_registry():
    metric = METRICS.build(dict(type='BoundaryFScore'))
    assert metric.pixels(512, 512) == 6  # ceil(0.0075 * 724.1)
    assert metric.pixels(20, 20) == 1
    with pytest.raises(ValueError, match='tolerance'):
        BoundaryFScore(tolerance=0)
