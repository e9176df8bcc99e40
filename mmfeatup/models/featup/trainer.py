"""FeatUp's multi-view reconstruction training of an upsampler, as an mmengine model."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from mmfeatup.registry import MODELS, build_upsampler
from ..featurizers import build_featurizer
from .downsamplers import build_downsampler
from .evaluation import multiview_reconstruction
from .jitter import apply_jitter, sample_jitter
from .losses import SampledCRFLoss, tv_loss
from .projection import project, random_projection
from .uncertainty import ScaleNet, uncertainty_loss


@MODELS.register_module()
class FeatUpUpsamplerTrainer(BaseModel):
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
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if n_jitters < 1:
            raise ValueError(f'n_jitters must be >= 1, got {n_jitters}')
        if proj_dim is not None and proj_dim < 1:
            raise ValueError(f'proj_dim must be >= 1 or None, got {proj_dim}')
        self.featurizer = build_featurizer(featurizer)
        channels = int(self.featurizer.channels)
        self.upsampler = build_upsampler(upsampler, in_channels=channels, guidance_channels=3)
        up_channels = getattr(self.upsampler, 'in_channels', channels)
        if up_channels != channels:
            raise ValueError(f'upsampler in_channels={up_channels} but the featurizer gives '
                             f'{channels} channels')
        self.downsampler = build_downsampler(downsampler or dict(type='attention'), channels,
                                             int(self.featurizer.stride))
        self.scale_net = ScaleNet(channels) if predicted_uncertainty else None
        self.crf = SampledCRFLoss(**(crf_cfg or {}))
        self.n_jitters = int(n_jitters)
        self.max_pad = int(max_pad)
        self.max_zoom = float(max_zoom)
        self.use_flips = use_flips
        self.proj_dim = proj_dim
        self.crf_weight = float(crf_weight)
        self.tv_weight = float(tv_weight)
        self.upsample_per_view = bool(upsample_per_view)
        self.eval_views = int(eval_views)
        self.eval_seed = int(eval_seed)

    @staticmethod
    def _stack(inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        images = inputs if isinstance(inputs, Tensor) else torch.stack(list(inputs))
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f'inputs must be images [B, 3, H, W], got {tuple(images.shape)}')
        return images.float()

    def upsample(self, images01: Tensor, lr: Optional[Tensor] = None) -> Tensor:
        """Upsampled features at the image size.

        Args:
            images01 (Tensor): ``[B, 3, H, W]`` in ``[0, 1]``.
            lr (Tensor, optional): the featurizer's features if already computed.

        Returns:
            Tensor: ``[B, C, H, W]``.
        """
        if lr is None:
            with torch.no_grad():
                lr = self.featurizer(images01)
        guidance = self.featurizer.normalize(images01)
        return self.upsampler(lr, guidance, output_size=tuple(images01.shape[-2:]))

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

    def predict(self, images01: Tensor) -> List[Dict[str, float]]:
        """Held-out multi-view reconstruction error per image (fixed area
        downsampler, ``eval_views`` views from ``eval_seed``), with bilinear
        upsampling of the same features as a reference."""
        generator = torch.Generator().manual_seed(self.eval_seed)
        state = generator.get_state()
        ours = multiview_reconstruction(lambda lr, img: self.upsample(img, lr), self.featurizer,
                                        images01, self.eval_views, generator, self.max_pad,
                                        self.max_zoom)
        generator.set_state(state)
        size = tuple(images01.shape[-2:])
        base = multiview_reconstruction(
            lambda lr, img: F.interpolate(lr, size=size, mode='bilinear', align_corners=False),
            self.featurizer, images01, self.eval_views, generator, self.max_pad, self.max_zoom)
        results = []
        for i in range(images01.shape[0]):
            results.append(dict(rel_mse=float(ours['rel_mse'][i]), cos=float(ours['cos'][i]),
                                bilinear_rel_mse=float(base['rel_mse'][i]),
                                bilinear_cos=float(base['cos'][i])))
        return results

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]], data_samples: Any = None,
                mode: str = 'tensor',
                **meta: Any) -> Union[Dict[str, Tensor], List[Dict[str, float]], Tensor]:
        """mmengine entry point: ``mode`` is ``'loss'``, ``'predict'`` or ``'tensor'``;
        other batch keys (``img_path``) are ignored."""
        images = self._stack(inputs)
        if mode == 'loss':
            return self.loss(images)
        if mode == 'predict':
            with torch.no_grad():
                return self.predict(images)
        if mode == 'tensor':
            return self.upsample(images)
        raise ValueError(f'mode must be "loss", "predict" or "tensor", got {mode!r}')
