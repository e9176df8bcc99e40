"""Runner training on the generated demo dataset: train + val, resume, gloo DDP, device set-up."""
import copy
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmfeatup.engine  # noqa: F401  (registers ProgressBarHook)
import mmfeatup.models  # noqa: F401
from mmfeatup.datasets.ade_demo import make_ade_demo
from mmfeatup.engine import apply_amp, configure_device, load_config, replace_sync_bn
from mmfeatup.engine.quick_schedule import quick_schedule
from mmfeatup.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'segformer_mit-b0_jbu_ade-demo-128x128.py')
SIZE = 64


@HOOKS.register_module()
class _RecordStartHook(Hook):
    """Records the iteration and one parameter when training (re)starts."""

    records = []

    def before_train(self, runner) -> None:
        param = next(runner.model.parameters())
        type(self).records.append((runner.iter, param.detach().clone()))


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade_demo'))
    make_ade_demo(root, num_train=4, num_val=2, size=SIZE, seed=0)
    return root


def small_cfg(data_root, work_dir, max_iters=2):
    """The demo config shrunk to 64-pixel crops, batch 2, ``max_iters`` iterations."""
    cfg = load_config(DEMO_CONFIG)
    crop = (SIZE, SIZE)
    cfg.model.data_preprocessor.size = crop
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[2] = dict(type='RandomResize', scale=crop, ratio_range=(1.0, 1.25), keep_ratio=True)
    pipeline[3] = dict(type='RandomCrop', crop_size=crop, cat_max_ratio=0.75)
    quick_schedule(cfg, max_iters, val_interval=max_iters)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.custom_hooks = [dict(type='_RecordStartHook')]
    cfg.log_level = 'WARNING'
    cfg.work_dir = work_dir
    return cfg


def adam_steps(runner):
    state = runner.optim_wrapper.optimizer.state
    return sorted({int(s['step']) for s in state.values() if 'step' in s})


@pytest.mark.slow
def test_runner_trains_two_iterations_and_validates(demo_root, tmp_path):
    cfg = small_cfg(demo_root, str(tmp_path))
    configure_device(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))
    metrics = runner.val()
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert 0.0 <= metrics[key] <= 100.0, (key, metrics)


@pytest.mark.slow
def test_resume_continues_iteration_and_optimizer_state(demo_root, tmp_path):
    _RecordStartHook.records.clear()
    work_dir = str(tmp_path)
    first = Runner.from_cfg(configure_device(small_cfg(demo_root, work_dir, max_iters=2)))
    first.train()
    assert adam_steps(first) == [2]
    final_param = next(first.model.parameters()).detach().clone()

    cfg = configure_device(small_cfg(demo_root, work_dir, max_iters=4))
    cfg.resume = True
    second = Runner.from_cfg(cfg)
    second.train()
    (start_a, _), (start_b, resumed_param) = _RecordStartHook.records
    assert start_a == 0 and start_b == 2  # the counter continued from the checkpoint
    assert torch.equal(resumed_param, final_param)  # weights continued
    assert second.iter == 4
    assert adam_steps(second) == [4]  # AdamW moments/steps continued (a fresh run gives 2)
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))


def test_replace_sync_bn_everywhere():
    cfg = dict(backbone=dict(norm_cfg=dict(type='SyncBN')),
               heads=[dict(norm_cfg=dict(type='SyncBN', requires_grad=True)), dict(type='BN')])
    assert replace_sync_bn(cfg) == 2
    assert cfg['backbone']['norm_cfg']['type'] == 'BN'
    assert cfg['heads'][0]['norm_cfg'] == dict(type='BN', requires_grad=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU behaviour')
def test_cpu_device_setup(monkeypatch):
    cfg = load_config(osp.join(ROOT, 'configs', 'segformer',
                               'segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py'))
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    configure_device(cfg)
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
        apply_amp(cfg)
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='torchrun'):
        configure_device(copy.deepcopy(cfg), 'pytorch')
    monkeypatch.setenv('RANK', '0')  # init_cpu_distributed returns early when initialised
    monkeypatch.setattr('torch.distributed.is_initialized', lambda: True)
    fsdp = copy.deepcopy(cfg)
    fsdp.model_wrapper_cfg = dict(type='MMFullyShardedDataParallel')
    with pytest.raises(RuntimeError, match='FSDP needs GPUs'):
        configure_device(fsdp, 'pytorch')
    ddp = configure_device(copy.deepcopy(cfg), 'pytorch')
    assert ddp.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=True, find_unused_parameters=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.dist
@pytest.mark.slow
def test_two_process_gloo_ddp_training(demo_root, tmp_path):
    cfg = small_cfg(demo_root, str(tmp_path / 'work'))
    cfg.custom_hooks = []
    cfg.log_level = 'INFO'  # the run's environment summary names the launcher
    config_file = str(tmp_path / 'ddp_cfg.py')
    cfg.dump(config_file)
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable, OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config_file, '2',
         '--work-dir', str(tmp_path / 'work')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert osp.isfile(str(tmp_path / 'work' / 'iter_2.pth'))
    logs = glob.glob(str(tmp_path / 'work' / '*' / '*.log'))
    text = ''.join(open(f).read() for f in logs)
    assert 'Distributed launcher: pytorch' in text
    assert 'Distributed training: True' in text


def test_one_training_entry_for_both_train_tools(load_tool, monkeypatch):
    """tools/train.py (--resume switch, --amp) and tools/train_upsampler.py (--resume [PATH])
    parse into the same entry, mmfeatup.engine.cli.train_from_args."""
    from mmfeatup.engine import cli
    runs = []
    monkeypatch.setattr(cli, 'run_runner', lambda cfg, launcher, mode: runs.append(
        (cfg.resume, cfg.load_from, launcher, mode)))
    train, upsampler = load_tool('train.py'), load_tool('train_upsampler.py')
    for argv in ([DEMO_CONFIG], [DEMO_CONFIG, '--resume']):
        cli.train_from_args(train.parse_args(argv))
    for argv in ([DEMO_CONFIG, '--resume'], [DEMO_CONFIG, '--resume', 'a.pth'], [DEMO_CONFIG]):
        cli.train_from_args(upsampler.parse_args(argv))
    assert runs == [(False, None, 'none', 'train'), (True, None, 'none', 'train'),
                    (True, None, 'none', 'train'), (True, 'a.pth', 'none', 'train'),
                    (False, None, 'none', 'train')]
    assert train.parse_args([DEMO_CONFIG, '--amp', '--work-dir', 'w']).work_dir == 'w'


def test_exit_on_error():
    from mmfeatup.engine.cli import exit_on_error
    assert exit_on_error(lambda: 3, (ValueError, )) == 3

    def fail():
        raise ValueError('bad --shape')

    with pytest.raises(SystemExit, match='error: bad --shape'):
        exit_on_error(fail, (ValueError, ))
    with pytest.raises(KeyError):
        exit_on_error(lambda: {}['x'], (ValueError, ))
