"""AnyUp's own objective: local-crop training, as an mmengine model.

Wimmer et al. 2025 supervise the upsampled features of a downsized image with the
featurizer's features of CROPS of the full-resolution image (no high-resolution feature
map of the whole image is ever computed). Written from the paper and the authors'
``train.py`` / ``BatchMultiCrop`` (their ``crop_size`` 448 is our image side ``H``,
their ``img_size`` 224 is ``local_scale * H``):

* ``g = resize(x, S)`` with ``S = local_scale * H`` (a stride multiple; antialiased),
  ``lr = f(g)``;
* ``K = num_local_crops`` stride-aligned ``S x S`` crops ``x_k`` of ``x`` per image,
  ``hr_k = f(x_k)``;
* ``pred = up(lr, g, H / p)`` (the full image's feature grid) and
  ``loss_hr = cos_mse(crop_k(pred), hr_k)`` with the JAFAR/AnyUp
  :func:`~mmfeatup.models.featup.jafar_trainer.cosine_mse_loss`;
* ``loss_reg = 0.1 cos_mse(up(lr, aug(g), S), sg[up(lr, g, S)])``: consistency under
  an augmented guidance (here: brightness/contrast jitter, then the blur / noise of
  :func:`~mmfeatup.models.featup.jafar_trainer.degrade_guidance`; theirs is a
  torchvision colour/blur pipeline on the data side);
* ``loss_down = 0.1 cos_mse(area(pred, size(lr)), lr)``: the prediction averaged back to
  the low-res grid must give back the input features.

Not ported: multi-backbone training (one featurizer per config here) and the
``global_view_random_resize`` option (off by default there). AdamW ``lr=2e-4`` as theirs.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmfeatup.registry import MODELS
from .jafar_trainer import LowResTrainerBase, cosine_mse_loss, degrade_guidance, round_to_stride


@MODELS.register_module()
class AnyUpTrainer(LowResTrainerBase):
    """AnyUp's local-crop training of any image-guided upsampler (module doc).

    Args:
        featurizer, upsampler: see :class:`LowResTrainerBase` (default upsampler: AnyUp).
        local_scale (float): crop side / image side (theirs: 224 / 448). Default: 0.5.
        num_local_crops (int): crops per image. Default: 4.
        reg_weight (float): augmentation-consistency weight. Default: 0.1.
        down_weight (float): downsampling-consistency weight. Default: 0.1.
        jitter (float): brightness / contrast jitter of the augmented guidance. Default: 0.2.
        **kwargs: :class:`LowResTrainerBase` (eval_views, eval_seed, max_pad, max_zoom,
            data_preprocessor, init_cfg).
    """

    def __init__(self,
                 featurizer: Union[Dict[str, Any], str, torch.nn.Module],
                 upsampler: Optional[Dict[str, Any]] = None,
                 local_scale: float = 0.5,
                 num_local_crops: int = 4,
                 reg_weight: float = 0.1,
                 down_weight: float = 0.1,
                 jitter: float = 0.2,
                 **kwargs: Any) -> None:
        super().__init__(featurizer, upsampler or dict(type='AnyUp'), **kwargs)
        if not 0 < local_scale < 1:
            raise ValueError(f'local_scale must be in (0, 1), got {local_scale!r}')
        if int(num_local_crops) != num_local_crops or num_local_crops < 1:
            raise ValueError(f'num_local_crops must be a positive int, got {num_local_crops!r}')
        self.local_scale = float(local_scale)
        self.num_local_crops = int(num_local_crops)
        self.reg_weight = float(reg_weight)
        self.down_weight = float(down_weight)
        self.jitter = float(jitter)

    def augment(self, images01: Tensor) -> Tensor:
        """Brightness/contrast jitter (per image) then blur / noise, in ``[0, 1]``."""
        batch = images01.shape[0]
        shape = (batch, 1, 1, 1)
        bright = 1 + self.jitter * (2 * torch.rand(shape, device=images01.device) - 1)
        contrast = 1 + self.jitter * (2 * torch.rand(shape, device=images01.device) - 1)
        mean = images01.mean(dim=(1, 2, 3), keepdim=True)
        out = ((images01 * bright - mean) * contrast + mean).clamp(0, 1)
        return degrade_guidance(out, blur_prob=0.35)

    def loss(self, images01: Tensor) -> Dict[str, Tensor]:
        """``loss_hr``, ``loss_reg`` and ``loss_down`` of one batch."""
        stride = self.stride
        height, width = images01.shape[-2:]
        if height % stride or width % stride:
            raise ValueError(f'image sides {(height, width)} must be multiples of the stride '
                             f'{stride} (crops are stride-aligned)')
        side = min(round_to_stride(self.local_scale * height, stride),
                   round_to_stride(self.local_scale * width, stride))
        if side >= min(height, width):
            raise ValueError(f'images {(height, width)} are too small for local crops of '
                             f'{self.local_scale} x at stride {stride}')
        guidance = F.interpolate(images01, size=(side, side), mode='bilinear',
                                 align_corners=False, antialias=True)
        lr = self.features(guidance)
        grid = (height // stride, width // stride)
        cell = side // stride
        tops = torch.randint(0, grid[0] - cell + 1, (images01.shape[0], self.num_local_crops))
        lefts = torch.randint(0, grid[1] - cell + 1, (images01.shape[0], self.num_local_crops))
        crops = torch.stack([
            images01[b, :, t * stride:(t + cell) * stride, l * stride:(l + cell) * stride]
            for b in range(images01.shape[0])
            for t, l in zip(tops[b].tolist(), lefts[b].tolist())])
        hr = self.features(crops)  # [B*K, C, cell, cell]
        pred = self.up(lr, guidance, grid)
        pred_crops = torch.stack([
            pred[b, :, t:t + cell, l:l + cell]
            for b in range(images01.shape[0])
            for t, l in zip(tops[b].tolist(), lefts[b].tolist())])
        losses = dict(loss_hr=cosine_mse_loss(pred_crops, hr))
        if self.reg_weight > 0:
            size = guidance.shape[-2:]
            aug = self.up(lr, self.augment(guidance), size)
            with torch.no_grad():
                target = self.up(lr, guidance, size)
            losses['loss_reg'] = self.reg_weight * cosine_mse_loss(aug, target)
        if self.down_weight > 0:
            down = F.adaptive_avg_pool2d(pred, lr.shape[-2:])
            losses['loss_down'] = self.down_weight * cosine_mse_loss(down, lr)
        return losses
