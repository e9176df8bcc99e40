"""JAFAR's and AnyUp's own objectives (JAFARTrainer, AnyUpTrainer): the loss, modes,
errors, and 2 Runner iterations from the shipped configs on tiny random images."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmfeatup.datasets  # noqa: F401
import mmfeatup.models  # noqa: F401
from mmfeatup.models.featup import AnyUpTrainer, JAFARTrainer, cosine_mse_loss

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
FEAT = 'efficientnet_lite0_s16'
SMALL = dict(qk_dim=16, num_heads=2)


def test_cosine_mse_loss_definition():
    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 5, 3, 4, generator=gen), torch.randn(2, 5, 3, 4, generator=gen)
    assert cosine_mse_loss(target, target) < 1e-6
    p = pred.permute(0, 2, 3, 1).reshape(-1, 5)
    t = target.permute(0, 2, 3, 1).reshape(-1, 5)
    low, high = t.min(1, keepdim=True).values, t.max(1, keepdim=True).values
    cos = torch.nn.CosineEmbeddingLoss()(p, t, torch.ones(len(p)))
    mse = torch.nn.MSELoss()((p - low) / (high - low + 1e-6), (t - low) / (high - low + 1e-6))
    assert torch.allclose(cosine_mse_loss(pred, target), cos + mse, atol=1e-6)
    with pytest.raises(ValueError, match='differ'):
        cosine_mse_loss(pred, target[:, :4])


@pytest.mark.parametrize('cls,keys', [(JAFARTrainer, {'loss_hr', 'loss_reg'}),
                                      (AnyUpTrainer, {'loss_hr', 'loss_reg', 'loss_down'})])
def test_losses_train_only_the_upsampler(cls, keys):
    torch.manual_seed(0)
    name = 'JAFAR' if cls is JAFARTrainer else 'AnyUp'
    model = cls(FEAT, dict(type=name, **SMALL), eval_views=1, max_pad=4).train()
    images = torch.rand(2, 3, 64, 64)
    losses = model(images, mode='loss')
    assert set(losses) == keys and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.featurizer.parameters())
    assert all(p.grad is not None for n, p in model.upsampler.named_parameters()
               if 'in_proj_bias' not in n)
    model.eval()
    assert model([images[0]], mode='tensor').shape == (1, 112, 64, 64)
    result = model(images[:1], mode='predict')[0]
    assert set(result) == {'rel_mse', 'cos', 'bilinear_rel_mse', 'bilinear_cos'}


@pytest.mark.parametrize('cls,name', [(JAFARTrainer, 'JAFAR'), (AnyUpTrainer, 'AnyUp')])
def test_loss_decreases_on_a_real_image(cls, name):
    import torch.nn.functional as F
    from skimage import data
    image = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    image = F.interpolate(image, size=(96, 96), mode='area')
    torch.manual_seed(0)
    model = cls(FEAT, dict(type=name, qk_dim=32)).train()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for _ in range(5):
        torch.manual_seed(123)  # the same views / crops / corruption each step
        loss = sum(model(image, mode='loss').values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_jafar_low_res_view_is_a_stride_multiple_in_range():
    model = JAFARTrainer(FEAT, dict(type='JAFAR', **SMALL))
    torch.manual_seed(0)
    for _ in range(5):
        side = model.low_res_view(torch.rand(1, 3, 128, 96)).shape[-2:]
        assert side[0] % 16 == 0 and side[1] % 16 == 0
        assert 32 <= side[0] <= 64 and 16 <= side[1] <= 48


def test_clear_errors():
    with pytest.raises(ValueError, match='lr_scale'):
        JAFARTrainer(FEAT, dict(type='JAFAR', **SMALL), lr_scale=(0.5, 0.25))
    with pytest.raises(ValueError, match='guidance_scale'):
        JAFARTrainer(FEAT, dict(type='JAFAR', **SMALL), guidance_scale=0)
    with pytest.raises(ValueError, match='local_scale'):
        AnyUpTrainer(FEAT, dict(type='AnyUp', **SMALL), local_scale=1)
    with pytest.raises(ValueError, match='num_local_crops'):
        AnyUpTrainer(FEAT, dict(type='AnyUp', **SMALL), num_local_crops=0)
    with pytest.raises(ValueError, match='in_channels=64'):
        JAFARTrainer(FEAT, dict(type='JAFAR', in_channels=64))
    jafar = JAFARTrainer(FEAT, dict(type='JAFAR', **SMALL))
    with pytest.raises(ValueError, match='too small'):
        jafar(torch.rand(1, 3, 24, 24), mode='loss')
    with pytest.raises(ValueError, match='mode'):
        jafar(torch.rand(1, 3, 32, 32), mode='bogus')
    anyup = AnyUpTrainer(FEAT, dict(type='AnyUp', **SMALL))
    with pytest.raises(ValueError, match='multiples of the stride'):
        anyup(torch.rand(1, 3, 40, 48), mode='loss')
    with pytest.raises(ValueError, match='too small for local crops'):
        anyup(torch.rand(1, 3, 16, 16), mode='loss')


def _tiny_cfg(name, root, work_dir):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'featup',
                                   f'{name}_efficientnet-lite0-s16_photos-128.py'))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.update(data_root=str(root), resize=64, crop_size=64)
    cfg.model.upsampler.update(SMALL)
    if name == 'anyup':
        cfg.model.num_local_crops = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=1000)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.experiment_name = f'tiny_{name}'
    return cfg


@pytest.mark.parametrize('name,trainer,key', [
    ('jafar', 'JAFARTrainer', 'upsampler.cross_decode.conv2d.weight'),
    ('anyup', 'AnyUpTrainer', 'upsampler.key_features_encoder.0.basis')])
def test_runner_trains_two_iterations_from_the_config(tmp_path, name, trainer, key):
    root = tmp_path / 'imgs'
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)).save(root / f'{i}.png')
    cfg = _tiny_cfg(name, root, tmp_path / 'work')
    assert cfg.model.type == trainer
    runner = Runner.from_cfg(cfg)
    before = runner.model.state_dict()[key].clone()
    runner.train()
    assert runner.iter == 2
    saved = torch.load(tmp_path / 'work' / 'iter_2.pth', map_location='cpu')
    assert saved['meta']['iter'] == 2
    assert not torch.equal(saved['state_dict'][key], before)
