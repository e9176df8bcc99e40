"""Implicit FeatUp as an mmengine model: fit one network to one image (Runner-trained)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmfeatup.registry import MODELS
from ..featurizers import build_featurizer
from .downsamplers import build_downsampler
from .implicit import ImplicitFeatUp, PCAProjector
from .jitter import apply_jitter, sample_jitter
from .uncertainty import ScaleNet, uncertainty_loss


@MODELS.register_module()
class ImplicitFeatUpFitter(BaseModel):
    """Fit implicit FeatUp to one image (docs/design.md section 1).

    On the first batch, ``n_views`` jittered views of the image (drawn from
    ``view_seed``) are featurized once and reduced to ``pca_dim`` PCA dims (the
    targets, kept in buffers so a checkpoint restores them). Each training step
    renders the network's features at the image size, applies ``views_per_step``
    of the views' jitters (chosen with the global generator the Runner seeds),
    downsamples with a learned downsampler and fits the targets under the
    predicted uncertainty. ``predict``/``tensor`` give the features at the
    image size in the backbone's channels.

    Args:
        featurizer (dict | str | nn.Module): see ``build_featurizer``; frozen.
        n_views (int): jittered target views. Default: 64.
        views_per_step (int): views per step. Default: 4.
        pca_dim (int): PCA dims of the targets. Default: 128.
        downsampler (dict, optional): ``dict(type='attention' | 'simple',
            kernel_size=None)``. Default: attention.
        max_pad (int): jitter padding. Default: 20.
        max_zoom (float): jitter zoom. Default: 2.0.
        view_seed (int): seed of the target views. Default: 0.
        data_preprocessor (dict, optional): mmengine data preprocessor config.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 featurizer: Union[Dict[str, Any], str, nn.Module],
                 n_views: int = 64,
                 views_per_step: int = 4,
                 pca_dim: int = 128,
                 downsampler: Optional[Dict[str, Any]] = None,
                 max_pad: int = 20,
                 max_zoom: float = 2.0,
                 view_seed: int = 0,
                 data_preprocessor: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if n_views < 1 or views_per_step < 1:
            raise ValueError(f'need n_views >= 1 and views_per_step >= 1, got {n_views}, '
                             f'{views_per_step}')
        self.featurizer = build_featurizer(featurizer)
        channels = int(self.featurizer.channels)
        self.projector = PCAProjector(dim=pca_dim, channels=channels)
        dim = self.projector.dim
        self.net = ImplicitFeatUp(out_dim=dim)
        self.downsampler = build_downsampler(downsampler or dict(type='attention'), dim,
                                             int(self.featurizer.stride))
        self.scale_net = ScaleNet(dim)
        self.n_views = int(n_views)
        self.views_per_step = int(views_per_step)
        self.max_pad = int(max_pad)
        self.max_zoom = float(max_zoom)
        self.view_seed = int(view_seed)
        self.register_buffer('image01', torch.zeros(0))
        self.register_buffer('targets', torch.zeros(0))
        self._views: Optional[List[Any]] = None

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        # the fitted image and targets have the image's shape: take it from the checkpoint
        for name in ('image01', 'targets'):
            value = state_dict.get(prefix + name)
            if isinstance(value, Tensor):
                setattr(self, name, torch.empty_like(value))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _sample_views(self, height: int, width: int) -> List[Any]:
        generator = torch.Generator().manual_seed(self.view_seed)
        return [sample_jitter(height, width, self.max_pad, self.max_zoom, generator=generator)
                for _ in range(self.n_views)]

    @torch.no_grad()
    def prepare(self, image01: Tensor) -> None:
        """Featurize the target views of ``image01`` ``[1, 3, H, W]`` and fit the PCA (once per
        image; a restored checkpoint already holds them)."""
        height, width = image01.shape[-2:]
        if min(height, width) <= self.max_pad:
            raise ValueError(f'ImplicitFeatUpFitter: image {(height, width)} must exceed '
                             f'max_pad={self.max_pad}')
        self._views = self._sample_views(height, width)
        if self.image01.shape == image01.shape and torch.equal(self.image01, image01):
            return  # restored from a checkpoint of this very image
        self.featurizer.eval()
        targets = torch.cat([self.featurizer(apply_jitter(image01, p)) for p in self._views])
        self.projector.fit(targets)
        self.image01 = image01.clone()
        self.targets = self.projector.project(targets)

    @staticmethod
    def _image(inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        image = inputs if isinstance(inputs, Tensor) else torch.stack(list(inputs))
        image = image[None] if image.dim() == 3 else image
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(f'ImplicitFeatUpFitter fits one image [1, 3, H, W], got '
                             f'{tuple(image.shape)}')
        return image.float()

    def features(self, output_size: Optional[Sequence[int]] = None) -> Tensor:
        """The fitted features ``[1, C, H', W']`` (default: the image size), eval mode."""
        was_training = self.net.training
        self.net.eval()
        with torch.no_grad():
            out = self.projector.unproject(self.net(self.image01, output_size))
        self.net.train(was_training)
        return out

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]], data_samples: Any = None,
                mode: str = 'loss') -> Union[Dict[str, Tensor], Tensor]:
        """``mode='loss'``: one fitting step's loss; ``'predict'``/``'tensor'``: the features."""
        image = self._image(inputs)
        if self._views is None or self.image01.shape != image.shape or not torch.equal(
                self.image01, image):
            self.prepare(image)
        if mode != 'loss':
            return self.features()
        self.featurizer.eval()
        hr = self.net(image)
        index = torch.randint(0, self.n_views, (self.views_per_step, ))
        jittered = torch.cat([apply_jitter(hr, self._views[int(i)]) for i in index])
        target = self.targets[index]
        pred = self.downsampler(jittered, target.shape[-2:])
        return dict(loss=uncertainty_loss(pred, target, self.scale_net(target)))
