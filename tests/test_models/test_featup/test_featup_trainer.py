import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image
from skimage import data

import mmfeatup.datasets  # noqa: F401
import mmfeatup.models  # noqa: F401
from mmfeatup.models.featup import FeatUpUpsamplerTrainer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

FEAT = 'efficientnet_lite0_s16'


def photo(size=64):
    image = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float()[None] / 255
    return F.interpolate(image, size=(size, size), mode='area')


def test_loss_decreases_on_a_real_image():
    torch.manual_seed(0)
    model = FeatUpUpsamplerTrainer(FEAT, dict(type='JBUStack'), n_jitters=2, max_pad=8,
                                   downsampler=dict(type='simple'), crf_weight=0.001)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.NAdam(params, lr=5e-3)
    image = photo()
    losses = []
    for _ in range(6):
        torch.manual_seed(123)  # same views / projections each step
        parts = model(image, mode='loss')
        assert set(parts) == {'loss_rec', 'loss_crf'}
        loss = sum(parts.values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is None for p in model.featurizer.parameters())


@pytest.mark.parametrize('per_view', [False, True])
def test_upsample_per_view_runs_the_upsampler_once_per_view(per_view):
    """The authors' training_step upsamples anew for every view (own dropout masks);
    the default shares one upsampled map among the views."""
    torch.manual_seed(0)
    model = FeatUpUpsamplerTrainer(FEAT, dict(type='JBUStack'), n_jitters=3, max_pad=8,
                                   downsampler=dict(type='simple'), crf_weight=0.0,
                                   upsample_per_view=per_view).train()
    calls = []
    model.upsampler.register_forward_hook(lambda *args: calls.append(1))
    model(photo(48), mode='loss')['loss_rec'].backward()
    assert len(calls) == (3 if per_view else 1)
    assert model.upsampler.up1.range_temp.grad is not None


def test_early_clip_optim_wrapper_clips_only_the_first_steps():
    """The authors clip the gradient norm to 1e-4 while global_step < 10: with SGD(lr=1) the
    first clip_steps updates have norm 1e-4, the later ones the gradient's."""
    from mmengine.optim import build_optim_wrapper
    import mmfeatup.engine  # noqa: F401  (registers EarlyClipOptimWrapper)
    from mmengine.registry import DefaultScope
    layer = torch.nn.Linear(4, 1, bias=False)
    with DefaultScope.overwrite_default_scope('mmseg'):  # the FeatUp configs' scope
        wrapper = build_optim_wrapper(layer, dict(type='EarlyClipOptimWrapper', clip_steps=2,
                                                  max_norm=1e-4,
                                                  optimizer=dict(type='SGD', lr=1.0)))
    steps = []
    for _ in range(4):
        before = layer.weight.detach().clone()
        wrapper.update_params((layer(torch.ones(1, 4)) * 100).sum())  # gradient norm 200
        steps.append(float((layer.weight.detach() - before).norm()))
    assert steps[0] == pytest.approx(1e-4, rel=1e-3) and steps[1] == pytest.approx(1e-4, rel=1e-3)
    assert steps[2] == pytest.approx(200, rel=1e-6) and steps[3] == pytest.approx(200, rel=1e-6)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'featup', '_base_', 'featup_runtime.py'))
    assert cfg.optim_wrapper.type == 'EarlyClipOptimWrapper' and cfg.optim_wrapper.clip_steps == 10


def test_tensor_and_predict_modes():
    torch.manual_seed(0)
    model = FeatUpUpsamplerTrainer(FEAT, dict(type='Bilinear'), downsampler=dict(type='attention'),
                                   eval_views=2, max_pad=8, tv_weight=0.1).eval()
    image = photo(48)
    hr = model([image[0]], mode='tensor')
    assert hr.shape == (1, 112, 48, 48)
    results = model(image, mode='predict')
    assert len(results) == 1
    # the upsampler IS bilinear: both columns must agree exactly
    assert results[0]['rel_mse'] == pytest.approx(results[0]['bilinear_rel_mse'])
    assert 0 < results[0]['rel_mse'] < 2 and -1 <= results[0]['cos'] <= 1
    model.train()
    assert set(model(image, mode='loss')) == {'loss_rec', 'loss_crf', 'loss_tv'}


def test_clear_errors():
    with pytest.raises(ValueError, match='in_channels=64'):
        FeatUpUpsamplerTrainer(FEAT, dict(type='Bilinear', in_channels=64))
    model = FeatUpUpsamplerTrainer(FEAT, dict(type='Bilinear'), max_pad=4)
    with pytest.raises(ValueError, match='smaller than the stride'):
        model(torch.rand(1, 3, 12, 12), mode='loss')
    with pytest.raises(ValueError, match='images'):
        model(torch.rand(1, 4, 64, 64), mode='loss')
    with pytest.raises(ValueError, match='mode'):
        model(torch.rand(1, 3, 64, 64), mode='bogus')
    with pytest.raises(ValueError, match='n_jitters'):
        FeatUpUpsamplerTrainer(FEAT, dict(type='Bilinear'), n_jitters=0)


def _tiny_cfg(root, work_dir, max_iters):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'featup', 'jbu_efficientnet-lite0-s16_photos-128.py'))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.dataset.update(data_root=str(root), resize=48, crop_size=48)
    cfg.model.update(n_jitters=1, max_pad=8)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.experiment_name = f'tiny{max_iters}'
    return cfg


def test_runner_checkpoint_and_resume(tmp_path):
    root = tmp_path / 'imgs'
    root.mkdir()
    Image.fromarray(data.chelsea()).save(root / 'cat.png')
    Image.fromarray(data.coffee()).save(root / 'coffee.png')
    work = tmp_path / 'work'
    runner = Runner.from_cfg(_tiny_cfg(root, work, 2))
    runner.train()
    assert osp.isfile(work / 'iter_2.pth')
    saved = torch.load(work / 'iter_2.pth', map_location='cpu')  # weights-only
    assert saved['meta']['iter'] == 2 and 'optimizer' in saved
    key = 'upsampler.up1.range_temp'
    assert key in saved['state_dict']
    # SaveUpsamplerHook: the upsampler alone, weights-only, with its provenance
    alone = torch.load(work / 'upsampler.pth', map_location='cpu', weights_only=True)
    assert alone['meta']['iters'] == 2 and alone['meta']['seed'] == 0
    assert alone['meta']['config'] == 'jbu_efficientnet-lite0-s16_photos-128.py'
    trained = runner.model.upsampler.state_dict()
    assert set(alone['state_dict']) == set(trained)
    assert all(torch.equal(alone['state_dict'][k], trained[k]) for k in trained)

    cfg = _tiny_cfg(root, work, 3)
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 3
    final = torch.load(work / 'iter_3.pth', map_location='cpu')  # weights-only
    assert final['meta']['iter'] == 3
    # the resumed run started from iter 2's weights: one more step changed them only a little
    start = saved['state_dict']['upsampler.fixup_proj.1.weight']
    end = final['state_dict']['upsampler.fixup_proj.1.weight']
    assert (end - start).abs().max() < 0.01
