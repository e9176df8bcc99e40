"""Fit implicit FeatUp to one image and query its features at any resolution."""
from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.models.featup import (ScaleNet, apply_jitter, build_downsampler,
                                    multiview_reconstruction, sample_jitter, uncertainty_loss)
from mmfeatup.models.featup.implicit import ImplicitFeatUp, PCAProjector
from mmfeatup.models.featurizers import build_featurizer


class FittedImplicitFeatUp(nn.Module):
    """A fitted per-image network, its PCA and its image.

    Args:
        net (ImplicitFeatUp): the network (outputs PCA coordinates).
        projector (PCAProjector): the backbone features' PCA.
        image01 (Tensor): ``[1, 3, H, W]`` the image it was fitted to.
    """

    def __init__(self, net: ImplicitFeatUp, projector: PCAProjector, image01: Tensor) -> None:
        super().__init__()
        self.net = net
        self.projector = projector
        self.register_buffer('image01', image01)

    @torch.no_grad()
    def forward(self, output_size: Optional[Sequence[int]] = None) -> Tensor:
        """Features ``[1, C, H', W']`` in the backbone's channel space (eval mode)."""
        was_training = self.net.training
        self.net.eval()
        size = tuple(self.image01.shape[-2:]) if output_size is None else tuple(
            int(s) for s in output_size)
        out = self.projector.unproject(self.net(self.image01, size))
        self.net.train(was_training)
        return out


def query_implicit(model: FittedImplicitFeatUp,
                   output_size: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
    """Features of a fitted implicit model at any resolution.

    Args:
        model (FittedImplicitFeatUp): from :func:`fit_implicit`.
        output_size (int | Sequence[int], optional): ``(H, W)``; default the image size.

    Returns:
        Tensor: ``[1, C, H, W]`` (C = the backbone's channels).
    """
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    if output_size is not None and min(output_size) <= 0:
        raise ValueError(f'output_size must be positive, got {output_size}')
    return model(output_size)


def _as_batch(image01: Tensor) -> Tensor:
    if image01.dim() == 3:
        image01 = image01[None]
    if image01.dim() != 4 or image01.shape[0] != 1 or image01.shape[1] != 3:
        raise ValueError(f'fit_implicit: image01 must be [3, H, W] or [1, 3, H, W], '
                         f'got {tuple(image01.shape)}')
    return image01.float()


def fit_implicit(image01: Tensor,
                 featurizer: Union[str, Dict[str, Any], nn.Module],
                 steps: int = 300,
                 n_views: int = 64,
                 views_per_step: int = 4,
                 pca_dim: int = 128,
                 downsampler: Optional[Dict[str, Any]] = None,
                 lr: float = 2e-3,
                 max_pad: int = 20,
                 max_zoom: float = 2.0,
                 seed: int = 0,
                 eval_views: int = 0,
                 eval_seed: int = 1000,
                 log_interval: int = 0) -> Tuple[FittedImplicitFeatUp, Dict[str, Any]]:
    """Fit implicit FeatUp to one image (docs/design.md section 1).

    ``n_views`` jittered views are featurized once and reduced to ``pca_dim``
    PCA dims; each step renders the features at the image size, applies
    ``views_per_step`` of the views' jitters, downsamples with a learned
    downsampler and fits the targets under the predicted uncertainty (NAdam).

    Args:
        image01 (Tensor): ``[3, H, W]`` or ``[1, 3, H, W]`` RGB in ``[0, 1]``.
        featurizer (str | dict | nn.Module): see ``build_featurizer``.
        steps (int): optimisation steps. Default: 300 (CPU default).
        n_views (int): jittered target views. Default: 64.
        views_per_step (int): views per step. Default: 4.
        pca_dim (int): PCA dims of the targets. Default: 128.
        downsampler (dict, optional): ``dict(type='attention' | 'simple',
            kernel_size=None)``. Default: attention.
        lr (float): NAdam learning rate. Default: 2e-3.
        max_pad (int): jitter padding. Default: 20.
        max_zoom (float): jitter zoom. Default: 2.0.
        seed (int): seed of views and initialisation. Default: 0.
        eval_views (int): if > 0, report the multi-view reconstruction error on
            that many fresh views (seed ``eval_seed``) for the fit and for
            bilinear upsampling. Default: 0.
        eval_seed (int): seed of the evaluation views. Default: 1000.
        log_interval (int): print the loss every N steps (0: never).

    Returns:
        tuple: the :class:`FittedImplicitFeatUp` and an info dict with
        ``losses``, ``seconds`` (fit time incl. featurizing) and, with
        ``eval_views``, ``rel_mse``/``cos`` and ``bilinear_rel_mse``/``bilinear_cos``.
    """
    if steps < 0 or n_views < 1 or views_per_step < 1:
        raise ValueError(f'need steps >= 0, n_views >= 1, views_per_step >= 1; got '
                         f'{steps}, {n_views}, {views_per_step}')
    image01 = _as_batch(image01)
    featurizer = build_featurizer(featurizer)
    featurizer.eval()
    height, width = image01.shape[-2:]
    if min(height, width) <= max_pad:
        raise ValueError(f'fit_implicit: image {(height, width)} must exceed max_pad={max_pad}')
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        views = [sample_jitter(height, width, max_pad, max_zoom, generator=generator)
                 for _ in range(n_views)]
        targets = torch.cat([featurizer(apply_jitter(image01, p)) for p in views])
        projector = PCAProjector(targets, pca_dim)
        targets = projector.project(targets)
    dim = projector.dim
    net = ImplicitFeatUp(out_dim=dim)
    down = build_downsampler(downsampler or dict(type='attention'), dim, int(featurizer.stride))
    scale_net = ScaleNet(dim)
    params = list(net.parameters()) + list(down.parameters()) + list(scale_net.parameters())
    optimizer = torch.optim.NAdam(params, lr=lr)
    losses = []
    for step in range(steps):
        net.train()
        down.train()
        hr = net(image01)
        index = torch.randint(0, n_views, (views_per_step, ), generator=generator)
        jittered = torch.cat([apply_jitter(hr, views[int(i)]) for i in index])
        target = targets[index]
        pred = down(jittered, target.shape[-2:])
        loss = uncertainty_loss(pred, target, scale_net(target))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if log_interval and (step + 1) % log_interval == 0:
            print(f'step {step + 1}/{steps} loss {losses[-1]:.4f} '
                  f'({time.perf_counter() - start:.0f}s)', flush=True)
    seconds = time.perf_counter() - start
    model = FittedImplicitFeatUp(net.eval(), projector, image01)
    info: Dict[str, Any] = dict(losses=losses, seconds=seconds, steps=steps, n_views=n_views,
                                views_per_step=views_per_step, pca_dim=dim)
    if eval_views > 0:
        size = (height, width)
        for name, fn in (('', lambda lr_, img: model(size)),
                         ('bilinear_', lambda lr_, img: F.interpolate(
                             lr_, size=size, mode='bilinear', align_corners=False))):
            gen = torch.Generator().manual_seed(eval_seed)
            errors = multiview_reconstruction(fn, featurizer, image01, eval_views, gen, max_pad,
                                              max_zoom)
            info[f'{name}rel_mse'] = float(errors['rel_mse'][0])
            info[f'{name}cos'] = float(errors['cos'][0])
    return model, info
