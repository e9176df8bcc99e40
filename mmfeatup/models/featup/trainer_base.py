"""What every upsampler trainer shares (FeatUp's, JAFAR's, AnyUp's): a frozen featurizer,
the upsampler, image-size upsampling, held-out multi-view scoring and the mmengine modes."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from mmfeatup.registry import build_upsampler
from ..featurizers import build_featurizer
from .evaluation import multiview_reconstruction


class UpsamplerTrainerBase(BaseModel):
    """Base of the upsampler trainers: subclasses implement :meth:`loss`.

    Args:
        featurizer (dict | str | nn.Module): see
            :func:`mmfeatup.models.featurizers.build_featurizer`; frozen.
        upsampler (dict): any :data:`mmfeatup.registry.UPSAMPLERS` config;
            ``in_channels`` defaults to the featurizer's channels.
        eval_views (int): views per image in ``predict``. Default: 10.
        eval_seed (int): seed of the ``predict`` views. Default: 0.
        max_pad (int): jitter reflect padding (training views, where used, and the
            ``predict`` views). Default: 20.
        max_zoom (float): jitter max zoom. Default: 2.0.
        data_preprocessor (dict, optional): mmengine data preprocessor config.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 featurizer: Union[Dict[str, Any], str, torch.nn.Module],
                 upsampler: Dict[str, Any],
                 eval_views: int = 10,
                 eval_seed: int = 0,
                 max_pad: int = 20,
                 max_zoom: float = 2.0,
                 data_preprocessor: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.featurizer = build_featurizer(featurizer)
        channels = int(self.featurizer.channels)
        self.upsampler = build_upsampler(upsampler, in_channels=channels, guidance_channels=3)
        up_channels = getattr(self.upsampler, 'in_channels', channels)
        if up_channels != channels:
            raise ValueError(f'upsampler in_channels={up_channels} but the featurizer gives '
                             f'{channels} channels')
        self.stride = int(self.featurizer.stride)
        self.eval_views = int(eval_views)
        self.eval_seed = int(eval_seed)
        self.max_pad = int(max_pad)
        self.max_zoom = float(max_zoom)

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
        raise NotImplementedError

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
