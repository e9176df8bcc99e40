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

import os.path as osp
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from mmfeatup.datasets import list_images
from .specs import count_parameters, for_seed, spec_of, upsampler_cfg
from .timer import Progress, Stopwatch

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
                lr: float = 1e-2, batch: int = 8, seed: int = 0) -> nn.Conv2d:
    """A linear probe (1x1 conv) fitted with Adam and cross-entropy (255 ignored)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probe = nn.Conv2d(features.shape[1], num_classes, 1)
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr)
    for _ in range(steps):
        index = torch.randint(0, features.shape[0], (min(batch, features.shape[0]), ),
                              generator=gen)
        loss = F.cross_entropy(probe(features[index].float()), labels[index],
                               ignore_index=IGNORE)
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


def run_probe(names: Sequence[str], seeds: Sequence[int], iters: int, train_dir: str,
              featurizer: Union[str, Dict[str, Any]], data_root: str, size: int, progress: Progress,
              results: Optional[Dict[str, Any]] = None,
              on_update: Callable[[], None] = lambda: None,
              variants: Optional[Dict[str, Dict[str, Any]]] = None, lr: float = 1e-3,
              batch: int = 2, probe_steps: int = 300, num_classes: int = 150,
              stride: int = 16) -> Dict[str, Dict[str, Any]]:
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
        progress (Progress): stepped once per upsampler.
        results (dict, optional): filled in place.
        on_update (callable): called after every upsampler.
        variants (dict, optional): the ``--variant`` configs by label.
        lr (float): FeatUp training learning rate.
        batch (int): FeatUp training batch.
        probe_steps (int): Adam steps of each probe.
        num_classes (int): label classes. Default: 150 (ADE20K).
        stride (int): the featurizer's stride.

    Returns:
        dict: per name ``mIoU``, ``acc``, ``acc_per_image`` (a list per seed), ``seeds`` (one
        entry per seed), ``seconds``,
        ``num_train``/``num_val`` and, on failure, ``error``.
    """
    from mmfeatup.apis import train_upsampler
    from mmfeatup.models.featurizers import build_featurizer
    from mmfeatup.registry import build_upsampler
    frozen = build_featurizer(featurizer).eval()
    train = load_split(data_root, 'training', size)
    val = load_split(data_root, 'validation', size)
    grid = size // stride
    results = {} if results is None else results
    for name in names:
        entry: Dict[str, Any] = dict(mIoU=[], acc=[], acc_per_image=[], seeds=[], seconds=[],
                                     num_train=len(train[0]), num_val=len(val[0]))
        try:
            cfg = upsampler_cfg(spec_of(name, variants), (grid, grid), (size, size))
            first = build_upsampler(for_seed(cfg, seeds[0]), in_channels=8)
            entry['trained'] = count_parameters(first) > 0
            for seed in seeds:
                with Stopwatch() as watch:
                    # parameter-free upsamplers come back untrained (only the probe's seed varies)
                    model = train_upsampler(for_seed(cfg, seed), frozen, train_dir, iters=iters,
                                            seed=seed, batch_size=batch, crop_size=size, lr=lr)
                    feats = [upsampled_features(model, frozen, split[0]) for split in (train, val)]
                    probe = train_probe(feats[0], train[1], num_classes, probe_steps, seed=seed)
                    scores = score_probe(probe, feats[1], val[1], num_classes)
                entry['mIoU'].append(scores['mIoU'])
                entry['acc'].append(scores['acc'])
                entry['acc_per_image'].append(scores['acc_per_image'])
                entry['seeds'].append(seed)
                entry['seconds'].append(watch.seconds)
        except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
            entry['error'] = f'{type(error).__name__}: {error}'[:200]
        results[name] = entry
        progress.step(f'probe {name}')
        on_update()
    return results
