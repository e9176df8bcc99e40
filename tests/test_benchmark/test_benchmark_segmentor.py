import os.path as osp

import pytest
import torch

from mmfeatup.benchmark.floors import floor_ms, measure_peaks
from mmfeatup.benchmark.segmentor import (build_segmentor, count_segmentor_flops,
                                          time_segmentor)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'segformer', 'segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py')


def test_stock_segmentor_is_the_config_without_its_neck():
    stock = build_segmentor(CONFIG, without_neck=True)
    with_neck = build_segmentor(CONFIG)
    assert type(stock).__name__ == 'EncoderDecoder' and not stock.with_neck
    assert type(with_neck).__name__ == 'GuidedEncoderDecoder' and with_neck.with_neck
    assert getattr(stock, 'auxiliary_head', None) is None
    # same backbone and head weights by name; the neck is the only difference
    extra = set(with_neck.state_dict()) - set(stock.state_dict())
    assert extra and all(key.startswith('neck.') for key in extra)
    assert set(stock.state_dict()) <= set(with_neck.state_dict())
    stock_flops = count_segmentor_flops(stock, (3, 64, 64))[0]
    neck_flops = count_segmentor_flops(with_neck, (3, 64, 64))[0]
    assert neck_flops > stock_flops > 0


def test_time_segmentor_runs_a_train_step_that_changes_the_weights():
    torch.manual_seed(0)
    # the config's preprocessor pads to its 512x512 crop; this test runs 64x64 images
    model = build_segmentor(CONFIG, {'model.data_preprocessor.size': (64, 64)})
    before = model.decode_head.conv_seg.weight.detach().clone()
    times = time_segmentor(model, (64, 64), batch=1, num_classes=150, repeats=1)
    assert all(times[key] > 0 for key in ('train_ms', 'infer_ms', 'train_cpu_ms', 'infer_cpu_ms'))
    assert not torch.equal(before, model.decode_head.conv_seg.weight)


def test_floors_are_the_larger_bound():
    peaks = measure_peaks(matmul_size=128, copy_mib=4, repeats=1)
    assert peaks['gmacs'] > 0 and peaks['gbps'] > 0
    fake = dict(gmacs=10.0, gbps=5.0)
    assert floor_ms(1e9, 0, fake) == pytest.approx(100.0)   # 1 GMAC at 10 GMAC/s
    assert floor_ms(1e3, 1e9, fake) == pytest.approx(200.0)  # 1 GB at 5 GB/s


def test_build_segmentor_from_a_loaded_config_leaves_it_unchanged():
    from mmfeatup.engine import load_config
    cfg = load_config(CONFIG)
    stock = build_segmentor(cfg, without_neck=True)
    assert type(stock).__name__ == 'EncoderDecoder'
    assert cfg.model.type == 'GuidedEncoderDecoder' and 'neck' in cfg.model
