"""Boundary F-score of semantic segmentation (the BF score of Csurka et al., BMVC 2013).

A pixel is a boundary pixel of a label map when a 4-neighbour carries another
label (pixels with the ignore index neither count as boundary nor break one).
Precision: the fraction of predicted boundary pixels within ``tolerance``
pixels (Chebyshev distance) of a ground-truth boundary pixel; recall: the
reverse; ``F = 2PR / (P + R)``. Counts are summed over the whole dataset before
the ratios are taken (so large images weigh more, like mmseg's aAcc).
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from torch import Tensor

from mmfeatup.registry import METRICS


def label_boundaries(label: Tensor, ignore_index: int = 255) -> Tensor:
    """Bool ``[H, W]`` map of pixels with a differently-labelled 4-neighbour.

    Args:
        label (Tensor): integer label map ``[H, W]``.
        ignore_index (int): label that is never a boundary and never breaks one.

    Returns:
        Tensor: bool ``[H, W]``.
    """
    if label.dim() != 2:
        raise ValueError(f'label must be [H, W], got shape {tuple(label.shape)}')
    valid = label != ignore_index
    edge = torch.zeros_like(valid)
    pairs = ((label[1:, :], label[:-1, :], valid[1:, :] & valid[:-1, :]),
             (label[:, 1:], label[:, :-1], valid[:, 1:] & valid[:, :-1]))
    for axis, (a, b, both) in enumerate(pairs):
        diff = (a != b) & both
        if axis == 0:
            edge[1:, :] |= diff
            edge[:-1, :] |= diff
        else:
            edge[:, 1:] |= diff
            edge[:, :-1] |= diff
    return edge


def _dilate(mask: Tensor, radius: int) -> Tensor:
    if radius <= 0:
        return mask
    pooled = F.max_pool2d(mask[None, None].float(), 2 * radius + 1, stride=1, padding=radius)
    return pooled[0, 0] > 0


def boundary_fscore_counts(pred: Tensor, gt: Tensor, tolerance: int,
                           ignore_index: int = 255) -> Tuple[int, int, int, int]:
    """``(matched_pred, total_pred, matched_gt, total_gt)`` boundary pixel counts.

    Predicted pixels where the ground truth is ``ignore_index`` are left out.
    """
    if pred.shape != gt.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and gt {tuple(gt.shape)} differ in shape')
    valid = gt != ignore_index
    pred_edge = label_boundaries(torch.where(valid, pred, torch.full_like(pred, ignore_index)),
                                 ignore_index)
    gt_edge = label_boundaries(gt, ignore_index)
    matched_pred = pred_edge & _dilate(gt_edge, tolerance)
    matched_gt = gt_edge & _dilate(pred_edge, tolerance)
    return (int(matched_pred.sum()), int(pred_edge.sum()), int(matched_gt.sum()),
            int(gt_edge.sum()))


@METRICS.register_module()
class BoundaryFScore(BaseMetric):
    """Dataset-level boundary precision, recall and F-score (in percent).

    Use beside mmseg's ``IoUMetric``:
    ``val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='BoundaryFScore')]``.

    Args:
        tolerance (float): match distance; ``< 1`` means a fraction of the image
            diagonal (0.0075 is the BF score's usual choice), ``>= 1`` pixels.
            Default: 0.0075 (at least 1 pixel).
        ignore_index (int): ignored label. Default: 255.
        collect_device (str): see ``BaseMetric``. Default: ``'cpu'``.
        prefix (str, optional): metric name prefix.
    """

    def __init__(self, tolerance: float = 0.0075, ignore_index: int = 255,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if tolerance <= 0:
            raise ValueError(f'tolerance must be positive, got {tolerance}')
        self.tolerance = tolerance
        self.ignore_index = ignore_index

    def pixels(self, height: int, width: int) -> int:
        """Tolerance in pixels for an image of this size."""
        if self.tolerance >= 1:
            return int(round(self.tolerance))
        return max(1, int(math.ceil(self.tolerance * math.hypot(height, width))))

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze().cpu()
            gt = sample['gt_sem_seg']['data'].squeeze().cpu().to(pred)
            self.results.append(boundary_fscore_counts(
                pred, gt, self.pixels(*gt.shape[-2:]), self.ignore_index))

    def compute_metrics(self, results: List[Tuple[int, int, int, int]]) -> Dict[str, float]:
        matched_pred, total_pred, matched_gt, total_gt = (sum(col) for col in zip(*results))
        precision = matched_pred / total_pred if total_pred else 0.0
        recall = matched_gt / total_gt if total_gt else 0.0
        fscore = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return dict(bF=100 * fscore, bPrecision=100 * precision, bRecall=100 * recall)
