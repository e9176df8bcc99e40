"""A whole segmentor's cost: build it from a config, time a train step and an inference.

Used by ``tools/analysis_tools/get_flops.py`` (FLOPs) and
``tools/analysis_tools/benchmark_jbu_targets.py`` (SegFormer-B0 with and without the FeatUp
neck). :func:`build_segmentor` installs the stack shims first (``mmseg.models`` imports
``mmcv.ops``), builds the model in the config's scope, drops the auxiliary head and reverts
SyncBN; ``without_neck=True`` gives the stock segmentor the config started from (its
``EncoderDecoder`` with the neck removed).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .timer import time_ms


def build_segmentor(config: Union[str, Any], cfg_options: Optional[Dict[str, Any]] = None,
                    without_neck: bool = False) -> nn.Module:
    """The segmentor of ``config`` (auxiliary head removed, SyncBN reverted), on CPU.

    Args:
        config (str | Config): config file path, or a loaded ``Config`` (not modified).
        cfg_options (dict, optional): ``--cfg-options`` overrides (with a path only).
        without_neck (bool): build the stock ``EncoderDecoder`` without the config's neck.

    Returns:
        nn.Module: the segmentor.
    """
    from mmfeatup.compat import install
    install()  # mmcv.ops importable before mmseg.models is; mmfeatup op FLOP handles

    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmfeatup.engine import load_config

    # a path is loaded here (running its custom_imports); a Config is deep-copied
    cfg = load_config(config, cfg_options) if isinstance(config, str) else copy.deepcopy(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if without_neck:
        cfg.model.pop('neck', None)
        cfg.model.type = 'EncoderDecoder'
    model = MODELS.build(cfg.model)
    if hasattr(model, 'auxiliary_head'):
        model.auxiliary_head = None
    return revert_sync_batchnorm(model)


def random_batch(model: nn.Module, shape: Tuple[int, int], batch: int = 1,
                 num_classes: int = 0, seed: int = 0) -> Dict[str, Any]:
    """A preprocessed batch of random images (and random labels when ``num_classes``).

    Args:
        model (nn.Module): the segmentor (its ``data_preprocessor`` runs).
        shape (tuple[int, int]): image ``(H, W)``.
        batch (int): images.
        num_classes (int): label classes; 0 for no labels.
        seed (int): the random generator's seed.

    Returns:
        dict: ``inputs`` and ``data_samples`` as the segmentor's methods take them.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape, pad_shape=shape))
        if num_classes:
            labels = torch.randint(0, num_classes, (1, *shape), generator=gen)
            sample.gt_sem_seg = PixelData(data=labels)
        samples.append(sample)
    images = [torch.randint(0, 256, (3, *shape), generator=gen, dtype=torch.uint8)
              for _ in range(batch)]
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)


def time_segmentor(model: nn.Module, shape: Tuple[int, int], batch: int, num_classes: int,
                   repeats: int) -> Dict[str, float]:
    """Median wall times (ms) of a train step (loss, backward, SGD step) and an inference.

    Args:
        model (nn.Module): the segmentor.
        shape (tuple[int, int]): image ``(H, W)``.
        batch (int): images per call.
        num_classes (int): the decode head's classes.
        repeats (int): timed calls per figure (median).

    Returns:
        dict: ``train_ms``, ``infer_ms`` (wall) and ``train_cpu_ms``, ``infer_cpu_ms``.
    """
    data = random_batch(model, shape, batch, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)

    def train_step() -> None:
        model.train()
        loss, _ = model.parse_losses(model(data['inputs'], data['data_samples'], mode='loss'))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def infer() -> None:
        model.eval()
        with torch.no_grad():
            model(data['inputs'], data['data_samples'], mode='predict')

    train_ms, train_cpu_ms = time_ms(train_step, repeats)
    infer_ms, infer_cpu_ms = time_ms(infer, repeats)
    return dict(train_ms=train_ms, train_cpu_ms=train_cpu_ms, infer_ms=infer_ms,
                infer_cpu_ms=infer_cpu_ms)


def count_segmentor_flops(model: nn.Module,
                          shape: Sequence[int]) -> Tuple[int, int, Tuple[int, ...]]:
    """FLOPs (one multiply-add = 1) of one eval forward on a random ``(3, H, W)`` image.

    Args:
        model (nn.Module): the segmentor.
        shape (Sequence[int]): ``(3, H, W)``.

    Returns:
        tuple: ``(flops, params, analysed input shape (H, W))``.
    """
    from mmengine.analysis import get_model_complexity_info
    from mmseg.structures import SegDataSample

    meta = dict(ori_shape=tuple(shape[-2:]), pad_shape=tuple(shape[-2:]))
    data = model.data_preprocessor(dict(inputs=[torch.rand(tuple(shape))],
                                        data_samples=[SegDataSample(metainfo=meta)]))
    model.eval()
    outputs = get_model_complexity_info(model, inputs=data['inputs'], show_table=False,
                                        show_arch=False)
    return outputs['flops'], outputs['params'], tuple(data['inputs'].shape[-2:])
