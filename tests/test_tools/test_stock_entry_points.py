"""Stock OpenMMLab entry points work unchanged on the shipped configs, and load safely.

Everything runs in fresh processes started from a directory outside the repository:
plain ``Config.fromfile`` on every shipped config, a user's own script calling
``Runner.from_cfg(cfg).train()`` / ``.test()``, one calling mmseg's ``init_model``,
``inference_model`` and ``MMSegInferencer``, and mmseg's own ``tools/train.py`` and
``tools/test.py`` as the mmsegmentation wheel ships them (``mmseg/.mim/tools``). The only
set-up is what the configs say (``custom_imports``). Checkpoints are loaded weights-only
everywhere: one whose pickle would run code is refused (and its code never runs), one that
holds none of the model's weights is an error; real checkpoints load.
"""
import glob
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'segformer_mit-b0_jbu_ade-demo-128x128.py')
MMSEG_TOOLS = osp.join(importlib.util.find_spec('mmseg').submodule_search_locations[0],
                       '.mim', 'tools')


class _RunsCode:
    """A pickle that would create ``marker`` when loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def _run(args, cwd, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _options(data_root, iters=2):
    return [f'{loader}.dataset.data_root={data_root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}', 'train_dataloader.batch_size=2']


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from mmfeatup.datasets.ade_demo import make_ade_demo
    root = str(tmp_path_factory.mktemp('ade_stock'))
    make_ade_demo(root, num_train=4, num_val=2, size=64, seed=0)
    return root


@pytest.fixture(scope='module')
def bad_checkpoints(tmp_path_factory):
    """A code-running pickle (with its would-be marker) and a checkpoint of another model."""
    folder = tmp_path_factory.mktemp('bad_ckpts')
    bomb, marker = folder / 'bomb.pth', folder / 'code_ran'
    torch.save({'state_dict': {'backbone.x': torch.zeros(1)}, 'meta': _RunsCode(marker)}, bomb)
    other = folder / 'other_model.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2), 'fc.bias': torch.zeros(2)},
                'meta': {}}, other)
    return dict(bomb=str(bomb), marker=marker, other=str(other))


def test_every_shipped_config_loads_with_plain_config_fromfile(tmp_path):
    configs = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
    assert len(configs) >= 20
    code = ('import sys\nfrom mmengine.config import Config\n'
            'for path in sys.argv[1:]:\n'
            '    cfg = Config.fromfile(path)\n'
            "    print('OK', path)\n")
    out = _run(['-c', code, *configs], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count('OK ') == len(configs)


@pytest.mark.slow
def test_user_script_runner_train_then_test(tmp_path, data_root):
    script = tmp_path / 'my_train.py'
    script.write_text(f'''
from mmengine.config import Config
from mmengine.runner import Runner

cfg = Config.fromfile({CONFIG!r})
for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
    cfg[loader].dataset.data_root = {data_root!r}
cfg.work_dir = {str(tmp_path / 'work')!r}
cfg.train_cfg.max_iters = 2
cfg.train_cfg.val_interval = 2
cfg.default_hooks.checkpoint.interval = 2
cfg.train_dataloader.batch_size = 2
runner = Runner.from_cfg(cfg)
runner.train()
metrics = runner.test()
print('TEST', sorted(metrics))
''')
    out = _run([str(script)], cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "TEST ['aAcc', 'mAcc', 'mIoU']" in out.stdout
    assert osp.isfile(tmp_path / 'work' / 'iter_2.pth')


@pytest.mark.slow
def test_user_script_mmseg_inference_apis(tmp_path):
    """mmseg's inference APIs drop LoadAnnotations from the config's test pipeline; the
    label check then sees bare images and lets them through."""
    image = tmp_path / 'photo.jpg'
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), rng.integers(0, 256, (72, 96, 3), dtype=np.uint8))
    checkpoint = tmp_path / 'model.pth'
    script = tmp_path / 'my_inference.py'
    script.write_text(f'''
import mmfeatup.models  # on mmcv-lite: before mmseg.apis (see the README)
import mmcv
import torch
from mmseg.apis import MMSegInferencer, inference_model, init_model

model = init_model({CONFIG!r}, None, device='cpu')
torch.save({{'state_dict': model.state_dict(), 'meta': {{}}}}, {str(checkpoint)!r})
model = init_model({CONFIG!r}, {str(checkpoint)!r}, device='cpu')
from_path = inference_model(model, {str(image)!r})
from_array = inference_model(model, mmcv.imread({str(image)!r}))
assert torch.equal(from_path.pred_sem_seg.data, from_array.pred_sem_seg.data)
inferencer = MMSegInferencer(model={CONFIG!r}, weights={str(checkpoint)!r}, device='cpu')
from_inferencer = inferencer({str(image)!r}, return_datasamples=True)
assert torch.equal(from_inferencer.pred_sem_seg.data, from_path.pred_sem_seg.data)
print('PRED', tuple(from_path.pred_sem_seg.data.shape))
''')
    out = _run([str(script)], cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert 'PRED (1, 72, 96)' in out.stdout


@pytest.mark.slow
def test_mmseg_own_tools_train_and_test(tmp_path, data_root, bad_checkpoints):
    work = str(tmp_path / 'work')
    train = _run([osp.join(MMSEG_TOOLS, 'train.py'), CONFIG, '--work-dir', work,
                  '--cfg-options', *_options(data_root)], cwd=tmp_path)
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-3000:]
    checkpoint = osp.join(work, 'iter_2.pth')
    assert osp.isfile(checkpoint)
    options = ['--cfg-options', *_options(data_root)]
    test = _run([osp.join(MMSEG_TOOLS, 'test.py'), CONFIG, checkpoint, '--work-dir', work,
                 *options], cwd=tmp_path)
    assert test.returncode == 0, test.stdout[-2000:] + test.stderr[-3000:]
    assert 'aAcc:' in test.stdout + test.stderr
    # test-time augmentation (the model wrapped in SegTTAModel: its keys gain a `module.`
    # prefix the checkpoint lacks) and drawn predictions
    tta = _run([osp.join(MMSEG_TOOLS, 'test.py'), CONFIG, checkpoint, '--work-dir', work, '--tta',
                '--show-dir', str(tmp_path / 'shown'), *options,
                'default_hooks.visualization.interval=1'], cwd=tmp_path)
    assert tta.returncode == 0, tta.stdout[-2000:] + tta.stderr[-3000:]
    assert 'aAcc:' in tta.stdout + tta.stderr
    assert len(glob.glob(str(tmp_path / 'shown' / '**' / '*.png'), recursive=True)) == 2
    # a code-running pickle is refused (weights-only), its code never runs
    bomb = _run([osp.join(MMSEG_TOOLS, 'test.py'), CONFIG, bad_checkpoints['bomb'],
                 '--work-dir', work, *options], cwd=tmp_path)
    assert bomb.returncode != 0
    assert 'Weights only load failed' in bomb.stderr and 'posix.system' in bomb.stderr
    assert not bad_checkpoints['marker'].exists()
    # a checkpoint of another model: an error, not a random model's scores
    other = _run([osp.join(MMSEG_TOOLS, 'test.py'), CONFIG, bad_checkpoints['other'],
                  '--work-dir', work, *options], cwd=tmp_path)
    assert other.returncode != 0
    assert 'none of its 2 weights matches' in other.stderr
    assert 'aAcc:' not in other.stdout + other.stderr  # nothing was scored


@pytest.mark.slow
def test_project_tools_refuse_bad_checkpoints(tmp_path, data_root, bad_checkpoints):
    work = tmp_path / 'work'
    train_py, test_py = osp.join(ROOT, 'tools', 'train.py'), osp.join(ROOT, 'tools', 'test.py')
    options = ['--cfg-options', *_options(data_root)]
    for path, needle in ((bad_checkpoints['bomb'], 'posix.system'),
                         (bad_checkpoints['other'], 'none of its 2 weights matches')):
        # tools/test.py
        out = _run([test_py, CONFIG, path, '--work-dir', str(work), *options], cwd=tmp_path)
        assert out.returncode != 0 and needle in out.stderr, out.stderr[-2000:]
        # load_from
        out = _run([train_py, CONFIG, '--work-dir', str(work), *options, f'load_from={path}'],
                   cwd=tmp_path)
        assert out.returncode != 0 and needle in out.stderr, out.stderr[-2000:]
        # --resume from the work dir's last checkpoint
        work.mkdir(exist_ok=True)
        (work / 'last_checkpoint').write_text(path)
        out = _run([train_py, CONFIG, '--work-dir', str(work), '--resume', *options],
                   cwd=tmp_path)
        assert out.returncode != 0 and needle in out.stderr, out.stderr[-2000:]
    assert not bad_checkpoints['marker'].exists()


def test_library_loaders_refuse_code(bad_checkpoints):
    from mmfeatup.models.upsamplers import JBUStack
    with pytest.raises(RuntimeError, match=r'refused .*bomb\.pth.*posix\.system'):
        JBUStack(8, checkpoint=bad_checkpoints['bomb'])
    spec = importlib.util.spec_from_file_location(
        'visualize_features', osp.join(ROOT, 'tools', 'visualize_features.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(RuntimeError, match=r'refused .*bomb\.pth'):
        tool.load_upsampler_weights(JBUStack(8), bad_checkpoints['bomb'])
    assert not bad_checkpoints['marker'].exists()
