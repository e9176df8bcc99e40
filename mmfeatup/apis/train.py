"""Python entry points of FeatUp upsampler training and held-out evaluation.

:func:`train_upsampler` is a thin layer over the one training path,
``tools/train_upsampler.py``'s: the mmengine ``Runner`` with the recipe of
``configs/featup/_base_/featup_runtime.py`` (model, data, NAdam, hooks); the
benchmark calls it with the same budget for every upsampler type.
"""
from __future__ import annotations

import os
import os.path as osp
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.datasets import list_images, load_image01, resize_shorter
from mmfeatup.models.featup import multiview_reconstruction
from mmfeatup.models.featurizers import build_featurizer

ImagesArg = Union[str, Sequence[Tensor], Tensor]

#: The FeatUp training recipe every upsampler-training config and this API share.
FEATUP_BASE_CONFIG = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                              'configs', 'featup', '_base_', 'featup_runtime.py')


def featup_recipe() -> Any:
    """The shared FeatUp recipe (``configs/featup/_base_/featup_runtime.py``) as a Config."""
    from mmengine.config import Config
    if not osp.isfile(FEATUP_BASE_CONFIG):
        raise FileNotFoundError(f'train_upsampler needs the FeatUp recipe {FEATUP_BASE_CONFIG} '
                                '(run mmfeatup from a checkout: pip install -e .)')
    return Config.fromfile(FEATUP_BASE_CONFIG)


def featup_runner_kwargs(cfg: Any, image_dir: str, iters: int, seed: int, batch_size: int,
                         crop_size: int, lr: float, work_dir: str,
                         log_interval: int) -> Dict[str, Any]:
    """``Runner`` arguments of the shared FeatUp recipe for one training run (no model).

    Args:
        cfg (Config): :func:`featup_recipe` (changed in place).
        image_dir (str): training images (recursive jpg/png).
        iters (int): optimisation steps.
        seed (int): ``randomness.seed`` (initialisation, crops, views).
        batch_size (int): images per step.
        crop_size (int): random crop side (shorter side resized to it first).
        lr (float): NAdam learning rate.
        work_dir (str): the runner's work dir.
        log_interval (int): log every N steps (0: warnings only).

    Returns:
        dict: keyword arguments of ``mmengine.runner.Runner`` except ``model``.
    """
    loader = cfg.train_dataloader
    loader.batch_size = batch_size
    loader.dataset.update(data_root=image_dir, resize=crop_size, crop_size=crop_size,
                          random_crop=True, flip_prob=0.5)
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.default_hooks.logger.interval = log_interval or max(iters, 1)
    cfg.default_hooks.checkpoint.update(interval=iters, max_keep_ckpts=1)
    return dict(work_dir=work_dir, train_dataloader=loader, optim_wrapper=cfg.optim_wrapper,
                param_scheduler=cfg.param_scheduler or None,
                train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1),
                default_hooks=cfg.default_hooks,
                # train_upsampler writes upsampler.pth itself, with its own arguments as meta
                custom_hooks=[h for h in cfg.custom_hooks if h.get('type') != 'SaveUpsamplerHook'],
                env_cfg=dict(cfg.env_cfg, dist_cfg=dict(backend='gloo')),
                log_processor=cfg.log_processor, log_level='INFO' if log_interval else 'WARNING',
                randomness=dict(seed=seed), default_scope=cfg.default_scope,
                experiment_name=f'train_upsampler_seed{seed}_{uuid.uuid4().hex[:12]}')


def train_upsampler(upsampler_cfg: Dict[str, Any],
                    featurizer_cfg: Union[str, Dict[str, Any], nn.Module],
                    image_dir: str,
                    iters: int,
                    seed: int = 0,
                    batch_size: int = 4,
                    crop_size: int = 224,
                    work_dir: Optional[str] = None,
                    lr: float = 1e-3,
                    log_interval: int = 0,
                    curve_points: Sequence[int] = (),
                    curve_score: Optional[Callable[[nn.Module], Dict[str, float]]] = None,
                    **trainer_kwargs: Any) -> nn.Module:
    """Train an upsampler with FeatUp's multi-view reconstruction loss (mmengine Runner).

    The same run as ``tools/train_upsampler.py`` with a config inheriting
    ``configs/featup/_base_/featup_runtime.py``: random ``crop_size`` crops of
    the images of ``image_dir`` (shorter side resized to ``crop_size``, random
    horizontal flips), NAdam, ``iters`` steps, ``randomness.seed = seed``.

    Args:
        upsampler_cfg (dict): any ``UPSAMPLERS`` config (``in_channels`` is set
            from the featurizer).
        featurizer_cfg (str | dict | nn.Module): see ``build_featurizer``.
        image_dir (str): training images (recursive jpg/png).
        iters (int): optimisation steps (0, or an upsampler without
            parameters, returns it untrained).
        seed (int): seeds initialisation, crops and views. Default: 0.
        batch_size (int): images per step. Default: 4.
        crop_size (int): crop side. Default: 224.
        work_dir (str, optional): the runner's work dir (its checkpoint and
            logs) and ``upsampler.pth`` (the upsampler's own weights, an
            mmengine checkpoint: ``meta`` + ``state_dict``). Default: None (a
            temporary directory, removed).
        lr (float): NAdam learning rate. Default: 1e-3.
        log_interval (int): log the loss every N steps (0: never). Default: 0.
        curve_points (Sequence[int]): steps after which ``curve_score`` scores the
            upsampler (a learning curve; steps past ``iters`` are ignored; it always scores
            before the first and after the last step; an untrained upsampler once).
            Default: ().
        curve_score (Callable[[nn.Module], dict], optional): the curve's scorer, e.g.
            :func:`evaluate_reconstruction` on held-out photos (the random states are
            restored after each call, so the run is unchanged). Default: None (no curve).
        **trainer_kwargs: more :class:`FeatUpUpsamplerTrainer` arguments
            (``downsampler``, ``n_jitters``, ``crf_weight`` ...).

    Returns:
        nn.Module: the trained upsampler in eval mode; its ``train_info``
        attribute holds ``seconds`` (training, without the curve's scoring), the
        ``losses`` per step and the ``curve`` (a list of ``dict(iter=N, **scores)``;
        empty without ``curve_score``).
    """
    from mmengine.runner import Runner

    # also registers the recipe's wrapper and hooks
    from mmfeatup.engine import LearningCurveHook, save_upsampler
    from mmfeatup.registry import MODELS
    if iters < 0:
        raise ValueError(f'iters must be >= 0, got {iters}')
    recipe = featup_recipe()  # parsed once: the model's arguments and the runner's
    model_cfg = dict(recipe.model, featurizer=featurizer_cfg, upsampler=upsampler_cfg,
                     **trainer_kwargs)
    torch.manual_seed(seed)  # the model is built before the runner seeds
    model = MODELS.build(model_cfg)
    trainable = any(p.requires_grad for p in model.upsampler.parameters())
    losses: List[float] = []
    curve: List[Dict[str, Any]] = []
    scoring = 0.0
    start = time.perf_counter()
    if iters and trainable:
        with tempfile.TemporaryDirectory() as scratch:
            kwargs = featup_runner_kwargs(recipe, image_dir, iters, seed, batch_size, crop_size, lr,
                                          work_dir or scratch, log_interval)
            if curve_score is not None:
                points = {p for p in curve_points if p <= iters} | {iters}  # the last: the score
                curve_hook = LearningCurveHook(curve_score, points, attribute='upsampler')
                kwargs['custom_hooks'] = [*kwargs['custom_hooks'], curve_hook]
            runner = Runner(model=model, **kwargs)
            runner.train()
            if curve_score is not None:
                curve, scoring = curve_hook.curve, curve_hook.seconds
            losses = [float(v) for v in runner.message_hub.get_scalar('train/loss').data[0]]
    seconds = time.perf_counter() - start - scoring
    upsampler = model.upsampler.eval()
    if curve_score is not None and not curve:  # untrained: one point
        curve = [dict(iter=0, **{k: float(v) for k, v in curve_score(upsampler).items()})]
    upsampler.train_info = dict(seconds=seconds, losses=losses, iters=iters if trainable else 0,
                                seed=seed, curve=curve)
    if work_dir is not None:
        os.makedirs(work_dir, exist_ok=True)
        meta = dict(upsampler=dict(upsampler_cfg), iters=iters, seed=seed, batch_size=batch_size,
                    crop_size=crop_size, lr=lr, seconds=round(seconds, 1))
        save_upsampler(upsampler, osp.join(work_dir, 'upsampler.pth'), meta)
    return upsampler


def load_eval_images(images: ImagesArg, crop_size: Optional[int]) -> List[Tensor]:
    """The images :func:`evaluate_reconstruction` scores on, as ``[3, H, W]`` tensors in [0, 1].

    Load them once to score several models on them (pass the list with ``crop_size=None``:
    the result is the same as passing the folder).

    Args:
        images (str | list | Tensor): a folder, image paths, or ``[3, H, W]`` tensors
            (``[B, 3, H, W]`` too).
        crop_size (int, optional): shorter side resized to it, then the centre square;
            None keeps the images as they are.

    Returns:
        list[Tensor]: the images.

    Raises:
        ValueError: no images.
    """
    if isinstance(images, Tensor):
        return list(images) if images.dim() == 4 else [images]
    if isinstance(images, str):
        images = list_images(images)
    out = []
    for item in images:
        image = load_image01(item) if isinstance(item, str) else item
        if crop_size is not None:
            image = resize_shorter(image, crop_size)
            top = (image.shape[-2] - crop_size) // 2
            left = (image.shape[-1] - crop_size) // 2
            image = image[:, top:top + crop_size, left:left + crop_size]
        out.append(image)
    if not out:
        raise ValueError('evaluate_reconstruction: no images given')
    return out


@torch.no_grad()
def evaluate_reconstruction(upsampler: Union[nn.Module, str],
                            featurizer: Union[str, Dict[str, Any], nn.Module],
                            image_dir_or_list: ImagesArg,
                            n_views: int = 10,
                            seed: int = 0,
                            crop_size: Optional[int] = 224,
                            max_pad: int = 20,
                            max_zoom: float = 2.0) -> Dict[str, Any]:
    """Held-out multi-view reconstruction error of an upsampler.

    Every image (centre ``crop_size`` crop after resizing the shorter side)
    is seen in ``n_views`` jittered views drawn from ``seed`` (identical views
    for every upsampler). Per view, the featurizer's features of the view are
    compared with the same view of the upsampled features, averaged over each
    stride window (fixed, parameter-free downsampler). See
    :mod:`mmfeatup.models.featup.evaluation`.

    Args:
        upsampler (nn.Module | str): an upsampler (called as
            ``upsampler(lr, featurizer.normalize(image), output_size=image size)``)
            or ``'bilinear'`` / ``'bicubic'`` / ``'nearest'``.
        featurizer (str | dict | nn.Module): see ``build_featurizer``.
        image_dir_or_list (str | list): a folder, image paths, or ``[3, H, W]`` tensors in [0, 1].
        n_views (int): views per image. Default: 10.
        seed (int): seed of the views. Default: 0.
        crop_size (int, optional): centre crop side; None uses whole images. Default: 224.
        max_pad (int): jitter padding. Default: 20.
        max_zoom (float): jitter zoom. Default: 2.0.

    Returns:
        dict: ``rel_mse`` and ``cos`` (means over images), ``per_image`` lists
        of both, ``num_images``, ``n_views``, ``seed``.
    """
    featurizer = build_featurizer(featurizer)
    featurizer.eval()
    if isinstance(upsampler, str):
        mode = upsampler.lower()
        if mode not in ('bilinear', 'bicubic', 'nearest'):
            raise ValueError('upsampler name must be bilinear, bicubic or nearest, '
                             f'got {upsampler!r}')

        def upsample_fn(lr: Tensor, image: Tensor) -> Tensor:
            kwargs = {} if mode == 'nearest' else dict(align_corners=False)
            return F.interpolate(lr, size=image.shape[-2:], mode=mode, **kwargs)
    else:
        upsampler.eval()

        def upsample_fn(lr: Tensor, image: Tensor) -> Tensor:
            return upsampler(lr, featurizer.normalize(image), output_size=tuple(image.shape[-2:]))

    generator = torch.Generator().manual_seed(seed)
    per_image: Dict[str, List[float]] = dict(rel_mse=[], cos=[])
    device = next(featurizer.parameters(), torch.empty(0)).device  # where it runs (CUDA too)
    for image in load_eval_images(image_dir_or_list, crop_size):
        image = image[None].float().to(device)
        errors = multiview_reconstruction(upsample_fn, featurizer, image, n_views,
                                          generator, max_pad, max_zoom)
        for key in per_image:
            per_image[key].append(float(errors[key][0]))
    count = len(per_image['rel_mse'])
    return dict(rel_mse=sum(per_image['rel_mse']) / count, cos=sum(per_image['cos']) / count,
                per_image=per_image, num_images=count, n_views=n_views, seed=seed)
