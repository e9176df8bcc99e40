"""Every shipped config loads offline and builds a model that runs in tensor/loss/predict modes;
every registered upsampler has a like-for-like SegFormer-B1 config."""
import glob
import re
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmfeatup.models  # noqa: F401
from mmfeatup.engine import configure_device, load_config
from mmfeatup.registry import MODELS, UPSAMPLERS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the segmentation configs (configs/segformer/**, configs/demo/**); the per-upsampler
# B1 variants build a larger model each and are marked slow
MAIN_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'segformer', '*.py')) +
                      glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py')))
UPSAMPLER_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'segformer', 'upsamplers', '*.py')))
CONFIGS = MAIN_CONFIGS + UPSAMPLER_CONFIGS
PARAMS = [pytest.param(c, id=osp.basename(c)) for c in MAIN_CONFIGS] + [
    pytest.param(c, id=osp.basename(c), marks=pytest.mark.slow) for c in UPSAMPLER_CONFIGS]
SIZE = 64

init_default_scope('mmseg')


def batch(num_classes, batch_size=2):
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8, generator=gen)
              for _ in range(batch_size)]
    samples = []
    for _ in range(batch_size):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, SIZE, SIZE), generator=gen))
        sample.set_metainfo(dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_configs_are_shipped():
    names = {osp.relpath(c, osp.join(ROOT, 'configs')) for c in CONFIGS}
    assert 'segformer/segformer_mit-b0_jbu_8xb2-160k_ade20k-512x512.py' in names
    assert 'segformer/segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py' in names
    assert any(n.startswith('demo/') for n in names)


def test_every_registered_upsampler_has_a_b1_config():
    covered = {'JBUStack'}
    for path in UPSAMPLER_CONFIGS:
        covered.add(load_config(path).model.neck.upsampler.type)
    missing = sorted(set(UPSAMPLERS.module_dict) - covered)
    assert not missing, f'no SegFormer-B1 config for upsamplers {missing}'


@pytest.mark.parametrize('path', PARAMS)
def test_config_builds_and_runs(path):
    cfg = load_config(path)
    assert cfg.custom_imports['imports'][0] == 'mmfeatup.models'
    assert cfg.model.backbone.get('init_cfg') is None  # nothing is fetched at run time
    configure_device(cfg)  # SyncBN -> BN on CPU
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    cfg.model.test_cfg = dict(mode='whole')
    model = MODELS.build(cfg.model)
    num_classes = cfg.model.decode_head.num_classes
    data = model.data_preprocessor(batch(num_classes), training=True)
    logits = model(data['inputs'], mode='tensor')
    stride = cfg.model.neck.get('output_stride') or 4  # the neck's grid (default: level 0)
    assert logits.shape == (2, num_classes, SIZE // stride, SIZE // stride)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    model.eval()
    with torch.no_grad():
        preds = model.test_step(batch(num_classes, 1))
    assert preds[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)


def test_featup_pretrained_demo_loads_the_shipped_jbu():
    """The FeatUp-pretrained demo's neck: every level's JBU stages are the shipped ones."""
    path = osp.join(ROOT, 'configs', 'demo', 'effnet-lite0_jbu-featup_ade-demo-128x128.py')
    cfg = load_config(path)
    checkpoint = cfg.model.neck.upsampler.checkpoint
    assert osp.isfile(checkpoint), checkpoint  # resolved from the config's folder, any cwd
    trained = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    neck = MODELS.build(cfg.model.neck)
    assert len(neck.upsamplers) == 3
    for module in neck.upsamplers:
        state = module.state_dict()
        stages = [k for k in state if k.startswith('up')]
        assert stages and all(torch.equal(state[k], trained[k]) for k in stages)
    # sharper than the authors' initialisation (sigma 1): training shrank the Gaussians
    assert min(float(v) for k, v in trained.items() if k.endswith('sigma_spatial')) < 0.9


def test_frozen_featup_demo_gives_the_jbu_stages_no_updates():
    """make demo's config: the pretrained stages get lr 0 and no decay, the rest trains."""
    from mmengine.optim import build_optim_wrapper
    path = osp.join(ROOT, 'configs', 'demo', 'effnet-lite0_jbu-featup-frozen_ade-demo-128x128.py')
    cfg = load_config(path)
    configure_device(cfg)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    frozen, trained = set(), set()
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            (frozen if group['lr'] == 0 else trained).add(names[id(param)])
            if group['lr'] == 0:
                assert group['weight_decay'] == 0
    stage = {n for n in names.values() if re.search(r'^neck\.upsamplers\.\d+\.up\d+\.', n)}
    assert stage and frozen == stage
    assert 'neck.upsamplers.0.fixup_proj.1.weight' in trained
    assert any(n.startswith('backbone.') for n in trained)
    assert any(n.startswith('decode_head.') for n in trained)
