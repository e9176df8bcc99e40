"""Averages the per-image reconstruction errors returned by
:meth:`FeatUpUpsamplerTrainer.predict` (mmengine validation)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from mmfeatup.registry import METRICS


@METRICS.register_module()
class ReconstructionMetric(BaseMetric):
    """Mean of every numeric key of the prediction dicts (``rel_mse``, ``cos``,
    ``bilinear_rel_mse``, ``bilinear_cos``).

    Args:
        collect_device (str): device for collecting results across ranks.
            Default: ``'cpu'``.
        prefix (str, optional): metric name prefix. Default: ``'rec'``.
    """

    default_prefix: Optional[str] = 'rec'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[Dict[str, float]]) -> None:
        for sample in data_samples:
            self.results.append({k: float(v) for k, v in dict(sample).items()})

    def compute_metrics(self, results: List[Dict[str, float]]) -> Dict[str, float]:
        if not results:
            raise RuntimeError('ReconstructionMetric: no predictions to average')
        return {key: sum(r[key] for r in results) / len(results) for key in results[0]}
