"""Fit implicit FeatUp to one image and query its features at any resolution.

:func:`fit_implicit` is a thin layer over the mmengine ``Runner`` training
:class:`~mmfeatup.models.featup.ImplicitFeatUpFitter` on the one image.
"""
from __future__ import annotations

import tempfile
import time
import uuid
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.models.featup import ImplicitFeatUpFitter, multiview_reconstruction


def query_implicit(model: ImplicitFeatUpFitter,
                   output_size: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
    """Features of a fitted implicit model at any resolution.

    Args:
        model (ImplicitFeatUpFitter): from :func:`fit_implicit`.
        output_size (int | Sequence[int], optional): ``(H, W)``; default the image size.

    Returns:
        Tensor: ``[1, C, H, W]`` (C = the backbone's channels).
    """
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    if output_size is not None and min(output_size) <= 0:
        raise ValueError(f'output_size must be positive, got {output_size}')
    return model.features(output_size)


def _as_batch(image01: Tensor) -> Tensor:
    if image01.dim() == 3:
        image01 = image01[None]
    if image01.dim() != 4 or image01.shape[0] != 1 or image01.shape[1] != 3:
        raise ValueError(f'fit_implicit: image01 must be [3, H, W] or [1, 3, H, W], '
                         f'got {tuple(image01.shape)}')
    return image01.float()


def _fit(model: ImplicitFeatUpFitter, image01: Tensor, steps: int, lr: float, seed: int,
         log_interval: int) -> list:
    """``steps`` Runner iterations on the one image (NAdam); the losses per step."""
    from mmengine.dataset import InfiniteSampler
    from mmengine.runner import Runner
    items = [dict(inputs=image01[0])]
    # an infinite sampler: with a finite one, the IterBasedTrainLoop restarts the one-item loader
    # every step, and mmengine sleeps 2 s at each restart (measured: 2 of 5 s per step)
    loader = torch.utils.data.DataLoader(
        items, batch_size=1, sampler=InfiniteSampler(items, shuffle=False),
        collate_fn=lambda batch: dict(inputs=torch.stack([b['inputs'] for b in batch])))
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner(
            model=model, work_dir=work_dir, train_dataloader=loader,
            optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='NAdam', lr=lr)),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=steps, val_interval=steps + 1),
            default_hooks=dict(logger=dict(type='LoggerHook', interval=log_interval or steps,
                                           log_metric_by_epoch=False),
                               checkpoint=None),
            log_processor=dict(by_epoch=False),  # "Iter(train) [n/steps]", not an epoch count
            log_level='INFO' if log_interval else 'WARNING', randomness=dict(seed=seed),
            default_scope='mmseg', env_cfg=dict(dist_cfg=dict(backend='gloo')),
            experiment_name=f'fit_implicit_seed{seed}_{uuid.uuid4().hex[:12]}')
        runner.train()
        return [float(v) for v in runner.message_hub.get_scalar('train/loss').data[0]]


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
                 log_interval: int = 0) -> Tuple[ImplicitFeatUpFitter, Dict[str, Any]]:
    """Fit implicit FeatUp to one image (docs/design.md section 1), on the mmengine Runner.

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
        seed (int): seed of views, initialisation and the per-step view choice. Default: 0.
        eval_views (int): if > 0, report the multi-view reconstruction error on
            that many fresh views (seed ``eval_seed``) for the fit and for
            bilinear upsampling. Default: 0.
        eval_seed (int): seed of the evaluation views. Default: 1000.
        log_interval (int): log the loss every N steps (0: never).

    Returns:
        tuple: the fitted :class:`ImplicitFeatUpFitter` (eval mode; query it with
        :func:`query_implicit`) and an info dict with ``losses``, ``seconds``
        (fit time incl. featurizing) and, with ``eval_views``, ``rel_mse``/``cos``
        and ``bilinear_rel_mse``/``bilinear_cos``.
    """
    if steps < 0 or n_views < 1 or views_per_step < 1:
        raise ValueError(f'need steps >= 0, n_views >= 1, views_per_step >= 1; got '
                         f'{steps}, {n_views}, {views_per_step}')
    image01 = _as_batch(image01)
    if min(image01.shape[-2:]) <= max_pad:
        raise ValueError(f'fit_implicit: image {tuple(image01.shape[-2:])} must exceed '
                         f'max_pad={max_pad}')
    start = time.perf_counter()
    torch.manual_seed(seed)  # the model is built before the runner seeds
    model = ImplicitFeatUpFitter(featurizer, n_views=n_views, views_per_step=views_per_step,
                                 pca_dim=pca_dim, downsampler=downsampler, max_pad=max_pad,
                                 max_zoom=max_zoom, view_seed=seed)
    model.prepare(image01)
    losses = _fit(model, image01, steps, lr, seed, log_interval) if steps else []
    model.eval()
    info: Dict[str, Any] = dict(losses=losses, seconds=time.perf_counter() - start, steps=steps,
                                n_views=n_views, views_per_step=views_per_step,
                                pca_dim=model.projector.dim)
    if eval_views > 0:
        size = tuple(image01.shape[-2:])
        for name, fn in (('', lambda lr_, img: model.features(size)),
                         ('bilinear_', lambda lr_, img: F.interpolate(
                             lr_, size=size, mode='bilinear', align_corners=False))):
            gen = torch.Generator().manual_seed(eval_seed)
            errors = multiview_reconstruction(fn, model.featurizer, image01, eval_views, gen,
                                              max_pad, max_zoom)
            info[f'{name}rel_mse'] = float(errors['rel_mse'][0])
            info[f'{name}cos'] = float(errors['cos'][0])
    return model, info
