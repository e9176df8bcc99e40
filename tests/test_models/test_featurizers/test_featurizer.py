import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmfeatup.models  # noqa: F401
from mmfeatup.models.featurizers import Featurizer, build_featurizer
from mmfeatup.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


@pytest.fixture(scope='module')
def s16():
    return build_featurizer('efficientnet_lite0_s16')


def test_preset_frozen_and_shapes(s16):
    assert (s16.stride, s16.channels) == (16, 112)
    assert all(not p.requires_grad for p in s16.parameters())
    s16.train()
    assert not s16.training and not s16.backbone.training
    with torch.no_grad():
        out = s16(torch.rand(2, 3, 97, 75))
    assert out.shape == (2, 112, 7, 5)


def test_s32_preset():
    f = build_featurizer('efficientnet_lite0_s32')
    assert (f.stride, f.channels) == (32, 320)
    with torch.no_grad():
        assert f(torch.rand(1, 3, 64, 96)).shape == (1, 320, 2, 3)


def test_preset_by_name_in_a_config_dict():
    """``dict(preset=NAME, **keys)``: the preset with ``keys`` replaced (what configs write)."""
    f = build_featurizer(dict(preset='efficientnet_lite0_s32', channel_norm=True))
    assert (f.stride, f.channels) == (32, 320) and f.norm is not None
    assert build_featurizer(dict(preset='efficientnet_lite0_s16')).norm is None
    with pytest.raises(KeyError, match="preset 'no_such' is unknown; known: efficientnet_lite0_s16"):
        build_featurizer(dict(preset='no_such'))
    for name in ('jbu_efficientnet-lite0-s16_photos-128.py', 'jbu_efficientnet-lite0-s32_photos-128.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'featup', name)).model.featurizer
        assert set(cfg) == {'preset', 'channel_norm'}, cfg  # no restated preset fields


def test_normalize_matches_backbone_convention(s16):
    image = torch.full((1, 3, 4, 4), 127 / 255)
    assert torch.allclose(s16.normalize(image), torch.zeros_like(image), atol=1e-6)
    image = torch.ones(1, 3, 4, 4)
    assert torch.allclose(s16.normalize(image), torch.full_like(image, 128 / 128), atol=1e-6)


def test_channel_norm_normalises_cells():
    f = build_featurizer('efficientnet_lite0_s16', channel_norm=True)
    with torch.no_grad():
        out = f(torch.rand(1, 3, 64, 64))
    assert torch.allclose(out.mean(1), torch.zeros(1, 4, 4), atol=1e-4)
    assert torch.allclose(out.var(1, unbiased=False), torch.ones(1, 4, 4), atol=1e-2)


def test_stride_and_channels_inferred_for_mmseg_timm_backbone():
    f = build_featurizer(dict(backbone=dict(type='TIMMBackbone', model_name='resnet18',
                                            features_only=True, pretrained=False,
                                            out_indices=(3, ))))
    assert (f.stride, f.channels) == (16, 256)


def test_timm_name():
    f = build_featurizer('resnet18')
    assert (f.stride, f.channels) == (32, 512)
    with torch.no_grad():
        assert f(torch.rand(1, 3, 65, 64)).shape[1] == 512


def test_bad_inputs(s16, tmp_path):
    with pytest.raises(ValueError, match='smaller than the stride'):
        s16(torch.rand(1, 3, 8, 64))
    with pytest.raises(ValueError, match=r'\[B, 3, H, W\]'):
        s16(torch.rand(1, 4, 64, 64))
    wrong = build_featurizer('efficientnet_lite0_s16', channels=100)
    with pytest.raises(RuntimeError, match='channels'):
        wrong(torch.rand(1, 3, 64, 64))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        Featurizer(backbone='resnet18', weights=str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='backbone'):
        Featurizer(backbone=3)


def test_weights_file_is_loaded(tmp_path):
    f = build_featurizer('resnet18')
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
             for k, v in f.backbone.state_dict().items()}
    torch.save(state, tmp_path / 'w.pth')
    g = Featurizer(backbone='resnet18', weights=str(tmp_path / 'w.pth'))
    assert torch.all(g.backbone.conv1.weight == 0.5)


def test_vit_config_missing_weights_is_a_clear_error():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'featup', 'jbu_vit-s14-dinov2_coco-224.py'))
    assert cfg.model.featurizer.weights == cfg.vit_weights
    cfg.model.featurizer.weights = '/nonexistent/vit_small_patch14_dinov2.pth'
    with pytest.raises(FileNotFoundError, match='nonexistent/vit_small'):
        MODELS.build(cfg.model)
