"""Every file in mmfeatup/weights/ is reproducible: it names the config that made it, that config
still builds its trainer, the weights fit the trainer's upsampler exactly, and the README gives the
command."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmfeatup.models  # noqa: F401
from mmfeatup.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
WEIGHTS_DIR = osp.join(ROOT, 'mmfeatup', 'weights')
WEIGHTS = sorted(glob.glob(osp.join(WEIGHTS_DIR, '*.pth')))


def test_weights_are_shipped():
    names = [osp.basename(p) for p in WEIGHTS]
    assert any('-s16_' in n for n in names) and any('-s32_' in n for n in names), names


@pytest.mark.parametrize('path', WEIGHTS, ids=osp.basename)
def test_shipped_weights_come_from_a_config_that_still_builds(path):
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    meta = checkpoint['meta']
    config = osp.join(ROOT, 'configs', 'featup', meta['config'])
    assert osp.isfile(config), f'{path} names {meta["config"]}, which is not in configs/featup'
    # the file is named after its config, and its run is the config's own schedule and seed
    assert osp.basename(path).startswith(osp.splitext(meta['config'])[0])
    cfg = Config.fromfile(config)
    assert meta['iters'] == cfg.train_cfg.max_iters
    assert meta['seed'] == cfg.randomness.seed
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    trainer = MODELS.build(cfg.model)
    trainer.upsampler.load_state_dict(checkpoint['state_dict'], strict=True)
    readme = open(osp.join(WEIGHTS_DIR, 'README.md')).read()
    assert osp.basename(path) in readme
    assert f'tools/train_upsampler.py configs/featup/{meta["config"]}' in readme
