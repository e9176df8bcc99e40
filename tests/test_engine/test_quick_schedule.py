"""mmfeatup.engine.quick_schedule: one way to shorten a config's schedule."""
import os.path as osp

import pytest

from mmfeatup.engine import load_config
from mmfeatup.engine.quick_schedule import quick_schedule

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'segformer_mit-b0_jbu_ade-demo-128x128.py')


def schedule(cfg):
    return [(s['type'], s['begin'], s['end']) for s in cfg.param_scheduler]


def test_clip_keeps_the_warm_up_and_ends_the_poly_decay_at_iters():
    cfg = quick_schedule(load_config(DEMO), 60)  # shipped: 120 iterations, warm-up 0-30
    loop = cfg.train_cfg
    assert (loop.type, loop.max_iters, loop.val_interval) == ('IterBasedTrainLoop', 60, 61)
    assert cfg.default_hooks.checkpoint.interval == 60
    assert schedule(cfg) == [('LinearLR', 0, 30), ('PolyLR', 30, 60)]
    assert schedule(quick_schedule(load_config(DEMO), 240)) == [('LinearLR', 0, 30),
                                                               ('PolyLR', 30, 240)]
    assert schedule(quick_schedule(load_config(DEMO), 2, val_interval=2)) == [
        ('LinearLR', 0, 2), ('PolyLR', 1, 2)]


def test_scale_squeezes_the_schedule_proportionally():
    cfg = quick_schedule(load_config(DEMO), 12, val_interval=4, scale=True)
    assert cfg.train_cfg.max_iters == 12 and cfg.train_cfg.val_interval == 4
    assert schedule(cfg) == [('LinearLR', 0, 3), ('PolyLR', 3, 12)]
    assert schedule(quick_schedule(load_config(DEMO), 1, scale=True)) == [
        ('LinearLR', 0, 1), ('PolyLR', 0, 1)]


def test_bad_iters():
    with pytest.raises(ValueError, match='positive'):
        quick_schedule(load_config(DEMO), 0)
