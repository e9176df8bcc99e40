"""Quality ``probe``: FeatUp's linear-probe protocol on labelled data.

A frozen featurizer's features are upsampled to the image size by each upsampler (trained with
the same FeatUp budget as in ``recon``, then frozen); a linear probe (a 1x1 convolution) is
trained on the upsampled features of the training split to predict the per-pixel labels, and
scored on the validation split: mIoU (classes present in the ground truth or the prediction)
and pixel accuracy. Only the probe learns, so the score measures how much label information
the upsampled features carry at full resolution, not what a decoder could add.

The data is any ADE20K-format folder (``images|annotations/training|validation``, labels
``png value = class + 1``, 0 ignored): the bundled demo set, or a user's ADE20K
``data_root``.
"""
from __future__ import annotations

import functools
import os.path as osp
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from mmfeatup.datasets import list_images
from .specs import for_seed, row_config
from .timer import Progress, Stopwatch
from .workers import run_seed_jobs

IGNORE = 255


def _square(image: Image.Image, size: int, resample: int) -> Image.Image:
    """Shorter side to ``size``, then the centre ``size x size`` crop."""
    width, height = image.size
    scale = size / min(width, height)
    image = image.resize((max(size, round(width * scale)), max(size, round(height * scale))),
                         resample)
    left, top = (image.size[0] - size) // 2, (image.size[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def load_split(data_root: str, split: str, size: int,
               limit: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """Images ``[N, 3, S, S]`` in [0, 1] and labels ``[N, S, S]`` (0-based, 255 ignored).

    Args:
        data_root (str): an ADE20K-format folder.
        split (str): ``'training'`` or ``'validation'``.
        size (int): side ``S`` (shorter side resized, centre crop; labels nearest).
        limit (int, optional): the first ``limit`` images only.
    """
    paths = list_images(osp.join(data_root, 'images', split))[:limit]
    if not paths:
        raise FileNotFoundError(f'probe: no images in {osp.join(data_root, "images", split)}')
    images, labels = [], []
    for path in paths:
        stem = osp.splitext(osp.basename(path))[0]
        label_path = osp.join(data_root, 'annotations', split, stem + '.png')
        with Image.open(path) as image, Image.open(label_path) as label:
            rgb = np.asarray(_square(image.convert('RGB'), size, Image.BILINEAR))
            raw = np.asarray(_square(label, size, Image.NEAREST)).astype(np.int64)
        images.append(torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255)
        labels.append(torch.from_numpy(np.where(raw == 0, IGNORE, raw - 1)))
    return torch.stack(images), torch.stack(labels)


@functools.lru_cache(maxsize=2)
def _cached_split(data_root: str, split: str, size: int) -> Tuple[Tensor, Tensor]:
    """:func:`load_split`, once per process (the jobs of a worker share it; read-only)."""
    return load_split(data_root, split, size)


@torch.no_grad()
def upsampled_features(upsampler: Optional[nn.Module], featurizer: nn.Module, images: Tensor,
                       batch: int = 8) -> Tensor:
    """The featurizer's features upsampled to the image size (float16 to keep them cached);
    ``upsampler=None`` is bilinear."""
    out = []
    for chunk in images.split(batch):
        low = featurizer(chunk)
        if upsampler is None:
            high = F.interpolate(low, size=chunk.shape[-2:], mode='bilinear',
                                 align_corners=False)
        else:
            high = upsampler(low, featurizer.normalize(chunk), output_size=chunk.shape[-2:])
        out.append(high.half())
    return torch.cat(out)


def train_probe(features: Tensor, labels: Tensor, num_classes: int, steps: int = 300,
                lr: float = 1e-2, batch: int = 8, seed: int = 0,
                pixels: Optional[int] = None) -> nn.Conv2d:
    """A linear probe (1x1 conv) fitted with Adam and cross-entropy (255 ignored).

    Args:
        features (Tensor): ``[N, C, H, W]`` (any float dtype).
        labels (Tensor): ``[N, H, W]``.
        num_classes (int): output classes.
        steps (int): Adam steps. Default: 300.
        lr (float): Adam learning rate. Default: 1e-2.
        batch (int): images per step. Default: 8.
        seed (int): seeds the probe's initialisation and the sampling. Default: 0.
        pixels (int, optional): per image and step, this many random pixels instead of the
            whole map (approximately the same loss, a fraction of the cost; a draw without a
            labelled pixel is skipped). Default: None.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probe = nn.Conv2d(features.shape[1], num_classes, 1)
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)
    count, area = features.shape[0], features.shape[-2] * features.shape[-1]
    for _ in range(steps):
        index = torch.randint(0, count, (min(batch, count), ), generator=gen)
        feats, target = features[index], labels[index]
        if pixels is not None and pixels < area:
            where = torch.randint(0, area, (len(index), pixels), generator=gen)
            feats = feats.flatten(2).gather(2, where[:, None].expand(-1, feats.shape[1], -1))
            feats, target = feats[..., None], target.flatten(1).gather(1, where)[..., None]
            if not bool((target != IGNORE).any()):
                continue
        feats = feats.float()
        loss = F.cross_entropy(probe(feats), target, ignore_index=IGNORE)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return probe.eval()


@torch.no_grad()
def score_probe(probe: nn.Module, features: Tensor, labels: Tensor,
                num_classes: int) -> Dict[str, float]:
    """``mIoU`` (over classes in the ground truth or the prediction) and pixel ``acc``, in %;
    ``acc_per_image`` (pixel accuracy of each image, in %, NaN for an image without labelled
    pixels) for statistics paired by image."""
    intersect = torch.zeros(num_classes, dtype=torch.float64)
    union = torch.zeros(num_classes, dtype=torch.float64)
    correct = total = 0
    per_image = []
    for feats, label in zip(features.split(8), labels.split(8)):
        pred = probe(feats.float()).argmax(1)
        valid = label != IGNORE
        hits = ((pred == label) & valid).flatten(1).sum(1).double()
        per_image += (100 * hits / valid.flatten(1).sum(1).double()).tolist()
        pred, label = pred[valid], label[valid]
        hit = pred[pred == label]
        area_i = torch.bincount(hit, minlength=num_classes).double()
        area_p = torch.bincount(pred, minlength=num_classes).double()
        area_l = torch.bincount(label, minlength=num_classes).double()
        intersect += area_i
        union += area_p + area_l - area_i
        correct += int(hit.numel())
        total += int(label.numel())
    present = union > 0
    miou = float((intersect[present] / union[present]).mean()) if present.any() else 0.0
    return dict(mIoU=100 * miou, acc=100 * correct / max(total, 1), acc_per_image=per_image)


def probe_job(cfg: Dict[str, Any], seed: int, iters: int, train_dir: str,
              featurizer: Union[str, Dict[str, Any]], data_root: str, size: int, lr: float,
              batch: int, probe_steps: int, num_classes: int,
              checkpoint: Optional[str] = None,
              probe_pixels: Optional[int] = None,
              train_crop: Optional[int] = None) -> Dict[str, Any]:
    """One upsampler and seed: the trained upsampler (``checkpoint``, else FeatUp-trained here
    as ``recon``), frozen; a probe fitted on its features and scored (a benchmark job).

    Args:
        cfg (dict): the upsampler config (``{seed}`` filled in).
        seed (int): the seed of the upsampler's training and of the probe.
        iters (int): FeatUp training steps (the budget; checked against ``checkpoint``).
        train_dir (str): the photos it trains on (without ``checkpoint``).
        featurizer (str | dict): the frozen featurizer.
        data_root (str): the labelled ADE20K-format data.
        size (int): image side of the probe data.
        lr (float): FeatUp training learning rate.
        batch (int): FeatUp training batch.
        probe_steps (int): Adam steps of the probe.
        num_classes (int): label classes.
        checkpoint (str, optional): the upsampler ``recon`` trained with this budget.
        probe_pixels (int, optional): see :func:`train_probe`.
        train_crop (int, optional): crop side of the training here (default: ``size``).

    Returns:
        dict: ``mIoU``, ``acc``, ``acc_per_image``, ``seconds``, ``num_train``, ``num_val``
        and ``reused`` (whether ``checkpoint`` was used).
    """
    from mmfeatup.apis import train_upsampler
    from mmfeatup.models.featurizers import build_featurizer
    from .trained import frozen_upsampler
    frozen = build_featurizer(featurizer).eval()
    train = _cached_split(data_root, 'training', size)
    val = _cached_split(data_root, 'validation', size)
    with Stopwatch() as watch:
        if checkpoint is not None:
            model = frozen_upsampler(cfg, frozen, checkpoint,
                                     dict(seed=seed, iters=iters, lr=lr, batch_size=batch))
        else:  # parameter-free upsamplers come back untrained (only the probe's seed varies)
            model = train_upsampler(cfg, frozen, train_dir, iters=iters, seed=seed,
                                    batch_size=batch, crop_size=train_crop or size, lr=lr)
        feats = [upsampled_features(model, frozen, split[0]) for split in (train, val)]
        probe = train_probe(feats[0], train[1], num_classes, probe_steps, seed=seed,
                            pixels=probe_pixels)
        scores = score_probe(probe, feats[1], val[1], num_classes)
    return dict(scores, seconds=watch.seconds, num_train=len(train[0]), num_val=len(val[0]),
                reused=checkpoint is not None)


def run_probe(names: Sequence[str], seeds: Sequence[int], iters: int, train_dir: str,
              featurizer: Union[str, Dict[str, Any]], data_root: str, size: int, progress: Progress,
              results: Optional[Dict[str, Any]] = None,
              on_update: Callable[[], None] = lambda: None,
              variants: Optional[Dict[str, Dict[str, Any]]] = None, lr: float = 1e-3,
              batch: int = 2, probe_steps: int = 300, num_classes: int = 150,
              stride: int = 16, workers: int = 1,
              checkpoints: Optional[Dict[Tuple[str, int], str]] = None,
              probe_pixels: Optional[int] = None,
              train_crop: Optional[int] = None) -> Dict[str, Dict[str, Any]]:
    """Per upsampler and seed: FeatUp-train it (as ``recon``), freeze it, fit and score a probe.

    Args:
        names (Sequence[str]): the rows (registered names or ``--variant`` labels).
        seeds (Sequence[int]): seeds of the upsampler training and of the probe
            (parameter-free upsamplers: the probe's seeds only).
        iters (int): FeatUp training steps per seed (``recon``'s budget).
        train_dir (str): the photos the upsamplers train on.
        featurizer (str | dict): the frozen featurizer (preset name or config).
        data_root (str): the labelled ADE20K-format data.
        size (int): image side of the probe data.
        progress (Progress): stepped once per finished job (upsampler and seed).
        results (dict, optional): filled in place.
        on_update (callable): called after every job.
        variants (dict, optional): the ``--variant`` configs by label.
        lr (float): FeatUp training learning rate.
        batch (int): FeatUp training batch.
        probe_steps (int): Adam steps of each probe.
        num_classes (int): label classes. Default: 150 (ADE20K).
        stride (int): the featurizer's stride.
        workers (int): jobs in parallel processes. Default: 1.
        checkpoints (dict, optional): ``(name, seed) -> path`` of upsamplers already trained
            with this budget (``recon``'s); used instead of training again (the saved config
            must equal this one's).
        probe_pixels (int, optional): random pixels per image and probe step
            (:func:`train_probe`; None: whole maps).
        train_crop (int, optional): crop side of the upsamplers trained here (those without
            a checkpoint; default: ``size``); the benchmark passes ``recon``'s.

    Returns:
        dict: per name ``mIoU``, ``acc``, ``acc_per_image`` (a list per seed), ``seeds`` (one
        entry per seed), ``seconds``, ``num_train``/``num_val``, ``trained`` and, on failure,
        ``error``.
    """
    results = {} if results is None else results
    checkpoints = checkpoints or {}
    jobs = []
    for name in names:
        entry: Dict[str, Any] = dict(mIoU=[], acc=[], acc_per_image=[], seeds=[], seconds=[])
        results[name] = entry
        try:
            cfg, entry['trained'] = row_config(name, variants, size, stride, seeds[0])
        except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
            entry['error'] = f'{type(error).__name__}: {error}'[:200]
            continue
        for seed in seeds:
            jobs.append(((name, seed), dict(
                cfg=for_seed(cfg, seed), seed=seed, iters=iters, train_dir=train_dir,
                featurizer=featurizer, data_root=data_root, size=size, lr=lr, batch=batch,
                probe_steps=probe_steps, num_classes=num_classes,
                checkpoint=checkpoints.get((name, seed)), probe_pixels=probe_pixels,
                train_crop=train_crop)))
    run_seed_jobs(probe_job, jobs, seeds, workers, results,
                  ('mIoU', 'acc', 'acc_per_image', 'seconds', 'reused'), ('num_train', 'num_val'),
                  progress, on_update, 'probe')
    return results
