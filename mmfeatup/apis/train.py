"""Plain-Python FeatUp upsampler training and held-out evaluation (no Runner).

The benchmark calls these with the same budget for every upsampler type.
"""
from __future__ import annotations

import os
import os.path as osp
import time
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfeatup.datasets import ImageFolderDataset, list_images, load_image01, resize_shorter
from mmfeatup.models.featup import FeatUpUpsamplerTrainer, multiview_reconstruction
from mmfeatup.models.featurizers import build_featurizer

ImagesArg = Union[str, Sequence[str], Sequence[Tensor], Tensor]


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
                    **trainer_kwargs: Any) -> nn.Module:
    """Train an upsampler with FeatUp's multi-view reconstruction loss.

    Random ``crop_size`` crops of the images of ``image_dir`` (shorter side
    resized to ``crop_size``, random horizontal flips), NAdam, ``iters`` steps.

    Args:
        upsampler_cfg (dict): any ``UPSAMPLERS`` config (``in_channels`` is set
            from the featurizer).
        featurizer_cfg (str | dict | nn.Module): see ``build_featurizer``.
        image_dir (str): training images (recursive jpg/png).
        iters (int): optimisation steps (0 returns the untrained upsampler).
        seed (int): seeds initialisation, crops and views. Default: 0.
        batch_size (int): images per step. Default: 4.
        crop_size (int): crop side. Default: 224.
        work_dir (str, optional): where to save ``upsampler.pth`` and ``log.txt``.
        lr (float): NAdam learning rate. Default: 1e-3.
        log_interval (int): print the loss every N steps (0: never). Default: 0.
        **trainer_kwargs: more :class:`FeatUpUpsamplerTrainer` arguments
            (``downsampler``, ``n_jitters``, ``crf_weight`` ...).

    Returns:
        nn.Module: the trained upsampler in eval mode; its ``train_info``
        attribute holds ``seconds`` and the ``losses`` per step.
    """
    if iters < 0:
        raise ValueError(f'iters must be >= 0, got {iters}')
    torch.manual_seed(seed)
    model = FeatUpUpsamplerTrainer(featurizer=featurizer_cfg, upsampler=upsampler_cfg,
                                   **trainer_kwargs)
    dataset = ImageFolderDataset(image_dir, resize=crop_size, crop_size=crop_size,
                                 random_crop=True, flip_prob=0.5)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.NAdam(params, lr=lr) if params else None
    model.train()
    losses: List[float] = []
    start = time.perf_counter()
    for step in range(iters):
        index = torch.randint(0, len(dataset), (batch_size, ))
        images = torch.stack([dataset[int(i)]['inputs'] for i in index])
        parts = model(images, mode='loss')
        loss = sum(parts.values())
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
        if log_interval and (step + 1) % log_interval == 0:
            print(f'iter {step + 1}/{iters} loss {losses[-1]:.4f} '
                  f'({time.perf_counter() - start:.0f}s)', flush=True)
    seconds = time.perf_counter() - start
    upsampler = model.upsampler.eval()
    upsampler.train_info = dict(seconds=seconds, losses=losses, iters=iters, seed=seed)
    if work_dir is not None:
        os.makedirs(work_dir, exist_ok=True)
        torch.save(upsampler.state_dict(), osp.join(work_dir, 'upsampler.pth'))
        with open(osp.join(work_dir, 'log.txt'), 'w') as f:
            f.write(f'seconds {seconds:.1f}\n')
            f.writelines(f'{i + 1} {v:.6f}\n' for i, v in enumerate(losses))
    return upsampler


def _load_images(images: ImagesArg, crop_size: Optional[int]) -> List[Tensor]:
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
    for image in _load_images(image_dir_or_list, crop_size):
        errors = multiview_reconstruction(upsample_fn, featurizer, image[None].float(), n_views,
                                          generator, max_pad, max_zoom)
        for key in per_image:
            per_image[key].append(float(errors[key][0]))
    count = len(per_image['rel_mse'])
    return dict(rel_mse=sum(per_image['rel_mse']) / count, cos=sum(per_image['cos']) / count,
                per_image=per_image, num_images=count, n_views=n_views, seed=seed)
