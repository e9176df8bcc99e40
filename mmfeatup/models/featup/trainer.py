"""FeatUp's multi-view reconstruction training of an upsampler, as an mmengine model."""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmfeatup.registry import MODELS
from .downsamplers import build_downsampler
from .jitter import apply_jitter, sample_jitter
from .losses import SampledCRFLoss, tv_loss
from .projection import project, random_projection
from .trainer_base import UpsamplerTrainerBase
from .uncertainty import ScaleNet, uncertainty_loss


@MODELS.register_module()
class FeatUpUpsamplerTrainer(UpsamplerTrainerBase):
    """Train any registered upsampler for a frozen featurizer (FeatUp's multi-view loss, docs/design.md section 1).

    Per batch: ``lr = f(x)``, ``hr = upsampler(lr, f.normalize(x))`` at the image
    size; for each of ``n_jitters`` views ``t``: compare ``down(t(hr))`` with
    ``f(t(x))`` in a random ``proj_dim``-d projection under the predicted
    uncertainty; plus a sampled CRF term (first view, jittered image with
    jittered features) and an optional TV term.

    Args:
        featurizer (dict | str | nn.Module): see
            :func:`mmfeatup.models.featurizers.build_featurizer`; frozen.
        upsampler (dict): any :data:`mmfeatup.registry.UPSAMPLERS` config;
            ``in_channels`` defaults to the featurizer's channels.
        downsampler (dict): ``dict(type='attention' | 'simple', kernel_size=None)``
            (kernel size defaults to the featurizer's stride).
        n_jitters (int): views per batch. Default: 5.
        max_pad (int): jitter reflect padding. Default: 20.
        max_zoom (float): jitter max zoom. Default: 2.0.
        use_flips (bool): jitter flips. Default: True.
        proj_dim (int, optional): random projection size; None compares all
            channels. Default: 30.
        predicted_uncertainty (bool): use :class:`ScaleNet`. Default: True.
        crf_weight (float): weight of :class:`SampledCRFLoss`. Default: 0.001.
        crf_cfg (dict, optional): arguments of :class:`SampledCRFLoss`.
        tv_weight (float): weight of the TV loss. Default: 0.
        upsample_per_view (bool): upsample anew for every view, so each view
            gets its own dropout masks, as the authors' ``training_step``
            (n_jitters upsampler passes per step). False shares one upsampled map
            and mask among the views: the same expected gradient at
            ``1 / n_jitters`` of the upsampler cost, with more per-step noise
            (docs/featup_training.md). Default: False.
        eval_views (int): views per image in ``predict``. Default: 10.
        eval_seed (int): seed of the ``predict`` views. Default: 0.
        data_preprocessor (dict, optional): mmengine data preprocessor config.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 featurizer: Union[Dict[str, Any], str, torch.nn.Module],
                 upsampler: Dict[str, Any],
                 downsampler: Optional[Dict[str, Any]] = None,
                 n_jitters: int = 5,
                 max_pad: int = 20,
                 max_zoom: float = 2.0,
                 use_flips: bool = True,
                 proj_dim: Optional[int] = 30,
                 predicted_uncertainty: bool = True,
                 crf_weight: float = 0.001,
                 crf_cfg: Optional[Dict[str, Any]] = None,
                 tv_weight: float = 0.0,
                 upsample_per_view: bool = False,
                 eval_views: int = 10,
                 eval_seed: int = 0,
                 data_preprocessor: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[Dict[str, Any]] = None) -> None:
        if n_jitters < 1:
            raise ValueError(f'n_jitters must be >= 1, got {n_jitters}')
        if proj_dim is not None and proj_dim < 1:
            raise ValueError(f'proj_dim must be >= 1 or None, got {proj_dim}')
        super().__init__(featurizer, upsampler, eval_views, eval_seed, max_pad, max_zoom,
                         data_preprocessor, init_cfg)
        channels = int(self.featurizer.channels)
        self.downsampler = build_downsampler(downsampler or dict(type='attention'), channels,
                                             self.stride)
        self.scale_net = ScaleNet(channels) if predicted_uncertainty else None
        self.crf = SampledCRFLoss(**(crf_cfg or {}))
        self.n_jitters = int(n_jitters)
        self.use_flips = use_flips
        self.proj_dim = proj_dim
        self.crf_weight = float(crf_weight)
        self.tv_weight = float(tv_weight)
        self.upsample_per_view = bool(upsample_per_view)

    def loss(self, images01: Tensor) -> Dict[str, Tensor]:
        """The training losses of one batch (summed by mmengine)."""
        height, width = images01.shape[-2:]
        with torch.no_grad():
            lr = self.featurizer(images01)
        hr = self.upsample(images01, lr)
        batch, channels = lr.shape[:2]
        rec = hr.new_zeros(())
        losses: Dict[str, Tensor] = {}
        for view in range(self.n_jitters):
            if view and self.upsample_per_view:
                hr = self.upsample(images01, lr)
            params = sample_jitter(height, width, self.max_pad, self.max_zoom, self.use_flips)
            with torch.no_grad():
                image_j = apply_jitter(images01, params)
                lr_j = self.featurizer(image_j)
            proj = (random_projection(batch, channels, self.proj_dim, device=lr.device)
                    if self.proj_dim else None)
            if getattr(self.downsampler, 'channelwise_linear', False):
                # project first: jitter and downsampler commute with it (cheaper).
                hr_j_proj = apply_jitter(project(hr, proj), params)
                pred = self.downsampler(hr_j_proj, lr_j.shape[-2:])
            else:
                hr_j = apply_jitter(hr, params)
                hr_j_proj = project(hr_j, proj)
                pred = project(self.downsampler(hr_j, lr_j.shape[-2:]), proj)
            target = project(lr_j, proj)
            if self.scale_net is not None:
                rec = rec + uncertainty_loss(pred, target, self.scale_net(lr_j))
            else:
                rec = rec + F.mse_loss(pred, target)
            if view == 0 and self.crf_weight > 0:
                losses['loss_crf'] = self.crf_weight * self.crf(
                    self.featurizer.normalize(image_j), hr_j_proj)
            if view == 0 and self.tv_weight > 0:
                losses['loss_tv'] = self.tv_weight * tv_loss(
                    hr_j_proj.square().sum(1, keepdim=True))
        losses['loss_rec'] = rec / self.n_jitters
        return losses

