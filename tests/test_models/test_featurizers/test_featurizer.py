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


# ---- backbone weights as users have them -------------------------------------------------
DINO = 'vit_small_patch14_dinov2'
DINO_KW = dict(depth=1, img_size=56, out_indices=(-1, ))  # a one-block DINOv2 ViT-S/14


def _dino_reference(seed=0):
    """A timm DINOv2 ViT-S/14 (one block) with random weights, and its features of a probe."""
    import timm
    torch.manual_seed(seed)
    model = timm.create_model(DINO, pretrained=False, depth=1, img_size=56,
                              dynamic_img_size=True).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.05)
    return model


def _features(featurizer, image):
    with torch.no_grad():
        return featurizer(image)


@pytest.mark.parametrize('form', ['timm-pth', 'timm-safetensors', 'dinov2-release',
                                  'features-only-wrapper', 'ddp-checkpoint'])
def test_vit_weights_load_in_the_forms_users_have_them(tmp_path, form):
    """timm state dicts (.pth and .safetensors as timm writes them), the authors' original
    DINOv2 release layout (mask_token, position embeddings for 518 px: timm's own filter
    converts them), a features_only model's state dict, and a DDP/mmengine checkpoint."""
    from safetensors.torch import save_file
    from timm.layers import resample_abs_pos_embed
    reference = _dino_reference()
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    path = str(tmp_path / ('w.safetensors' if form == 'timm-safetensors' else 'w.pth'))
    if form == 'timm-safetensors':
        save_file(state, path)
    elif form == 'dinov2-release':
        release = dict(state)
        release['mask_token'] = torch.zeros(1, state['cls_token'].shape[-1])
        # the release is at 518 px (37 x 37 patches); bilinear-resampling ours there and back
        # is not exact, so the reference model gets the round-tripped embedding too
        big = resample_abs_pos_embed(state['pos_embed'], (37, 37), num_prefix_tokens=1)
        release['pos_embed'] = big
        reference.pos_embed.data = resample_abs_pos_embed(big, (4, 4), num_prefix_tokens=1)
        torch.save(release, path)
    elif form == 'features-only-wrapper':
        torch.save({f'model.{k}': v for k, v in state.items()}, path)
    elif form == 'ddp-checkpoint':
        torch.save({'state_dict': {f'module.{k}': v for k, v in state.items()}}, path)
    else:
        torch.save(state, path)
    featurizer = Featurizer(backbone=DINO, timm_kwargs=DINO_KW, weights=path, stride=14,
                            channels=384)
    image = torch.rand(1, 3, 56, 70)
    with torch.no_grad():  # the last block's patch tokens as a map, as features_only gives them
        expected = reference.forward_intermediates(featurizer.normalize(image), indices=1,
                                                   intermediates_only=True)[-1]
    assert expected.shape == (1, 384, 4, 5)
    torch.testing.assert_close(_features(featurizer, image), expected, rtol=1e-5, atol=1e-5)


def test_weights_that_fit_nothing_name_the_closest_keys(tmp_path):
    reference = _dino_reference()
    wrong = {f'encoder.layer{k}': v for k, v in reference.state_dict().items()}
    torch.save(wrong, tmp_path / 'wrong.pth')
    with pytest.raises(RuntimeError, match=r"do not fit timm model 'vit_small_patch14_dinov2'.*"
                                           r"closest to 'cls_token' are \['encoder\.layercls_token"):
        Featurizer(backbone=DINO, timm_kwargs=DINO_KW, weights=str(tmp_path / 'wrong.pth'))
    # a config-dict backbone: every backbone key must be found
    torch.save({'conv.weight': torch.zeros(1)}, tmp_path / 'other.pth')
    with pytest.raises(RuntimeError, match=r"do not fit EfficientNetLite.*are missing"):
        Featurizer(backbone=dict(type='EfficientNetLite', arch='lite0', pretrained=False,
                                 out_indices=(3, )), weights=str(tmp_path / 'other.pth'))
