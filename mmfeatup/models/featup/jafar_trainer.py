"""JAFAR's own objective: low-resolution training, as an mmengine model.

Couairon et al. 2025 train the upsampler without high-resolution targets: the features
of a DOWNSAMPLED image are upsampled (guided by the image) to the feature grid of the
full image and compared with the featurizer's features of the full image; the paper
shows that this x2-x4 training generalises to larger ratios at inference. Written from
the paper and the authors' ``train.py`` / ``src/loss.py``:

* ``hr = f(x)``; ``lr = f(resize(x, s))`` with ``s ~ U(0.25, 0.5)`` and the low-res side
  rounded to a multiple of the stride (bilinear);
* guidance: ``x`` bilinearly halved (``guidance_scale``);
* ``loss_hr = cos_mse(up(lr, g, size(hr)), hr)`` with :func:`cosine_mse_loss`
  (``1 - cos`` per pixel plus the MSE of both maps min-max scaled by the target's
  per-pixel channel range);
* ``loss_reg = 0.1 cos_mse(up(hr, noisy(g), size(g)), sg[up(hr, g, size(g))])``:
  robustness to a blurred / noisy guidance (blur 5x5, sigma 1 with p 0.5; Gaussian
  noise 0.02 with p 0.3; in ``[0, 1]`` image space before normalisation; the authors
  clamp the already-normalised image, a quirk not kept). Their output size 224 is the
  guidance size for their 448 crops; here it is the guidance size (``reg_size``).

AdamW ``lr=2e-4, betas (0.9, 0.999), weight_decay=1e-5`` are the authors'
(configs/featup/jafar_*.py). The featurizer, data, ``predict`` (held-out multi-view
reconstruction, scored by ``ReconstructionMetric``) and Runner plumbing are the FeatUp
trainer's (:class:`~mmfeatup.models.featup.trainer.FeatUpUpsamplerTrainer`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmfeatup.registry import MODELS
from .downsamplers import gaussian_blur
from .trainer_base import UpsamplerTrainerBase


def cosine_mse_loss(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """The JAFAR/AnyUp loss of ``[B, C, H, W]`` maps (their ``Cosine_MSE``).

    ``mean_p(1 - cos(pred_p, target_p)) + mean((pred - m) / (M - m + eps) - (target - m) /
    (M - m + eps))^2`` with ``m``, ``M`` the per-pixel min and max of ``target`` over its
    channels.
    """
    if pred.shape != target.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and target {tuple(target.shape)} differ')
    cos = F.cosine_similarity(pred, target, dim=1, eps=1e-8)
    low = target.amin(dim=1, keepdim=True)
    span = target.amax(dim=1, keepdim=True) - low + eps
    return (1 - cos).mean() + F.mse_loss((pred - low) / span, (target - low) / span)


def round_to_stride(value: float, stride: int) -> int:
    """``value`` rounded to a multiple of ``stride``, at least ``stride``."""
    return max(stride, stride * int(math.floor(value / stride + 0.5)))


def degrade_guidance(images01: Tensor, blur_prob: float = 0.5, noise_prob: float = 0.3,
                     noise_std: float = 0.02) -> Tensor:
    """JAFAR's guidance corruption: Gaussian blur (5x5, sigma 1) with ``blur_prob``,
    additive Gaussian noise with ``noise_prob``, clamped to ``[0, 1]`` (one draw per batch,
    as theirs)."""
    out = images01
    if float(torch.rand(())) < blur_prob:
        out = gaussian_blur(out)
    if float(torch.rand(())) < noise_prob:
        out = out + noise_std * torch.randn_like(out)
    return out.clamp(0, 1)


class LowResTrainerBase(UpsamplerTrainerBase):
    """What the JAFAR and AnyUp trainers add to :class:`UpsamplerTrainerBase`: feature and
    upsampling helpers of the low-resolution objectives (same arguments)."""

    def features(self, images01: Tensor) -> Tensor:
        """The frozen featurizer's features (no gradient)."""
        with torch.no_grad():
            return self.featurizer(images01)

    def up(self, lr: Tensor, guidance01: Tensor, size: Sequence[int]) -> Tensor:
        """``upsampler(lr, normalize(guidance01), size)``."""
        return self.upsampler(lr, self.featurizer.normalize(guidance01),
                              output_size=tuple(int(s) for s in size))


@MODELS.register_module()
class JAFARTrainer(LowResTrainerBase):
    """JAFAR's low-resolution training of any image-guided upsampler (module doc).

    Args:
        featurizer, upsampler: see :class:`LowResTrainerBase` (default upsampler: JAFAR).
        lr_scale (tuple[float, float]): range of the image downscale whose features are
            upsampled. Default: (0.25, 0.5).
        guidance_scale (float): scale of the guidance image. Default: 0.5.
        reg_weight (float): weight of the guidance-corruption consistency. Default: 0.1.
        reg_size (int | tuple, optional): its output size; None: the guidance's size.
        blur_prob, noise_prob, noise_std: :func:`degrade_guidance`. Defaults 0.5, 0.3, 0.02.
        **kwargs: :class:`LowResTrainerBase` (eval_views, eval_seed, max_pad, max_zoom,
            data_preprocessor, init_cfg).
    """

    def __init__(self,
                 featurizer: Union[Dict[str, Any], str, torch.nn.Module],
                 upsampler: Optional[Dict[str, Any]] = None,
                 lr_scale: Tuple[float, float] = (0.25, 0.5),
                 guidance_scale: float = 0.5,
                 reg_weight: float = 0.1,
                 reg_size: Optional[Union[int, Sequence[int]]] = None,
                 blur_prob: float = 0.5,
                 noise_prob: float = 0.3,
                 noise_std: float = 0.02,
                 **kwargs: Any) -> None:
        super().__init__(featurizer, upsampler or dict(type='JAFAR'), **kwargs)
        low, high = (float(v) for v in lr_scale)
        if not 0 < low <= high <= 1:
            raise ValueError(f'lr_scale must be (low, high) with 0 < low <= high <= 1, '
                             f'got {lr_scale!r}')
        if not 0 < guidance_scale <= 1:
            raise ValueError(f'guidance_scale must be in (0, 1], got {guidance_scale!r}')
        self.lr_scale = (low, high)
        self.guidance_scale = float(guidance_scale)
        self.reg_weight = float(reg_weight)
        self.reg_size = (None if reg_size is None else
                         (reg_size, reg_size) if isinstance(reg_size, int) else tuple(reg_size))
        self.blur_prob = float(blur_prob)
        self.noise_prob = float(noise_prob)
        self.noise_std = float(noise_std)

    def low_res_view(self, images01: Tensor) -> Tensor:
        """The image downscaled by ``s ~ U(lr_scale)``, sides multiples of the stride."""
        height, width = images01.shape[-2:]
        low, high = self.lr_scale
        scale = low + (high - low) * float(torch.rand(()))
        size = (round_to_stride(height * scale, self.stride),
                round_to_stride(width * scale, self.stride))
        return F.interpolate(images01, size=size, mode='bilinear', align_corners=False)

    def loss(self, images01: Tensor) -> Dict[str, Tensor]:
        """``loss_hr`` and ``loss_reg`` of one batch (summed by mmengine)."""
        if min(images01.shape[-2:]) < 2 * self.stride:
            raise ValueError(f'images {tuple(images01.shape[-2:])} are too small for '
                             f'low-resolution training at stride {self.stride}')
        hr = self.features(images01)
        lr = self.features(self.low_res_view(images01))
        guidance = images01
        if self.guidance_scale != 1:
            guidance = F.interpolate(images01, scale_factor=self.guidance_scale,
                                     mode='bilinear', align_corners=False)
        losses = dict(loss_hr=cosine_mse_loss(self.up(lr, guidance, hr.shape[-2:]), hr))
        if self.reg_weight > 0:
            size = self.reg_size or guidance.shape[-2:]
            noisy = degrade_guidance(guidance, self.blur_prob, self.noise_prob, self.noise_std)
            pred = self.up(hr, noisy, size)
            with torch.no_grad():
                target = self.up(hr, guidance, size)
            losses['loss_reg'] = self.reg_weight * cosine_mse_loss(pred, target)
        return losses
