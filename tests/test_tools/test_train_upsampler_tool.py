"""tools/train_upsampler.py trains and validates a FeatUp JBU from a shipped config, run as a user
would from a directory outside the repository (then resumes from its checkpoint)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from PIL import Image
from skimage import data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'featup', 'jbu_efficientnet-lite0-s16_photos-128.py')


@pytest.mark.slow
def test_train_upsampler_tool_trains_validates_and_resumes(tmp_path):
    for split, names in (('train', ('chelsea', 'coffee')), ('heldout', ('astronaut', 'rocket'))):
        folder = tmp_path / 'photos' / split
        folder.mkdir(parents=True)
        for name in names:
            Image.fromarray(getattr(data, name)()).save(folder / f'{name}.png')
    work = tmp_path / 'work'

    def run(iters, *extra):
        options = [f'train_dataloader.dataset.data_root={tmp_path}/photos/train',
                   f'val_dataloader.dataset.data_root={tmp_path}/photos/heldout',
                   'train_dataloader.batch_size=1', 'train_dataloader.dataset.resize=48',
                   'train_dataloader.dataset.crop_size=48', 'val_dataloader.dataset.resize=48',
                   'val_dataloader.dataset.crop_size=48', 'model.n_jitters=1', 'model.max_pad=8',
                   'model.eval_views=2', f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=2',
                   'default_hooks.checkpoint.interval=2']
        env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
        return subprocess.run(
            [sys.executable, osp.join(ROOT, 'tools', 'train_upsampler.py'), CONFIG,
             '--work-dir', str(work), *extra, '--cfg-options', *options],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    first = run(2)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert osp.isfile(work / 'iter_2.pth')
    assert 'Iter(val)' in first.stdout + first.stderr
    second = run(4, '--resume')
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 2' in second.stdout + second.stderr
    assert osp.isfile(work / 'iter_4.pth')
    # the held-out statistics tool reads both the upsampler alone and the Runner's whole trainer
    stats = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'analysis_tools', 'featup_heldout_stats.py'),
         CONFIG, str(work / 'upsampler.pth'), str(work / 'iter_4.pth'), '--out',
         str(tmp_path / 'stats.json'), '--cfg-options',
         f'val_dataloader.dataset.data_root={tmp_path}/photos/heldout',
         'val_dataloader.dataset.resize=48', 'val_dataloader.dataset.crop_size=48',
         'model.eval_views=2', '--edge-size', '40'], cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS='1',
                                                       PYTHONPATH=ROOT),
        capture_output=True, text=True, timeout=600)
    assert stats.returncode == 0, stats.stdout[-2000:] + stats.stderr[-3000:]
    import json
    scores = json.loads((tmp_path / 'stats.json').read_text())['scores']
    # the same weights either way: upsampler.pth is written from the final trainer
    assert scores[0]['rel_mse'] == scores[1]['rel_mse'] and len(scores[0]['rel_mse']) == 2
    # edge alignment on the same held-out photos, per photo, for the upsampler and bilinear
    assert scores[0]['edge'] == scores[1]['edge'] and len(scores[0]['edge']) == 2
    assert scores[0]['bilinear_edge'] != scores[0]['edge']
    assert all(-1 <= v <= 1 for v in scores[0]['edge'] + scores[0]['bilinear_edge'])
    assert 'edge alignment at 40 px' in stats.stdout
    assert json.loads((tmp_path / 'stats.json').read_text())['edge_size'] == 40
