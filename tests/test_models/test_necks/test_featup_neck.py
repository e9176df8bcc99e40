"""FeatUpNeck: shapes, pass-through, guidance modes, exactness of Bilinear, clear errors."""
import pytest
import torch
import torch.nn.functional as F

import mmfeatup.models  # noqa: F401  (registers the neck and the upsamplers)
from mmfeatup.models.necks import FeatUpNeck
from mmfeatup.registry import MODELS

CHANNELS = [8, 16, 24, 32]


def pyramid(batch=2, size=64, channels=CHANNELS, seed=0):
    """Random features at strides 4/8/16/32 of a ``size`` x ``size`` image, and the image."""
    gen = torch.Generator().manual_seed(seed)
    feats = [torch.randn(batch, c, size // s, size // s, generator=gen)
             for c, s in zip(channels, (4, 8, 16, 32))]
    image = torch.randn(batch, 3, size, size, generator=gen)
    return feats, image


def test_registered_in_mmseg_models():
    neck = MODELS.build(dict(type='FeatUpNeck', in_channels=CHANNELS,
                             upsampler=dict(type='Bilinear'), guidance=None))
    assert isinstance(neck, FeatUpNeck)
    assert len(neck.upsamplers) == 3 and neck.in_index == [1, 2, 3]


def test_bilinear_matches_resize_and_passes_level0_through():
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type='Bilinear'), guidance=None)
    outs = neck(feats, image)
    assert len(outs) == 4
    assert outs[0] is feats[0]
    for level in (1, 2, 3):
        expected = F.interpolate(feats[level], size=(16, 16), mode='bilinear',
                                 align_corners=False)
        assert torch.equal(outs[level], expected)


def test_untouched_levels_pass_through_unchanged():
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, in_index=[3], upsampler=dict(type='Bilinear'), guidance=None)
    outs = neck(feats, image)
    assert all(outs[i] is feats[i] for i in (0, 1, 2))
    assert outs[3].shape == (2, 32, 16, 16)


def test_jbu_image_guided_shapes_and_gradients():
    feats, image = pyramid()
    feats = [f.requires_grad_() for f in feats]
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type='JBUStack'), guidance='image')
    outs = neck(feats, image)
    assert [tuple(o.shape) for o in outs] == [(2, c, 16, 16) for c in CHANNELS]
    sum(o.sum() for o in outs[1:]).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats[1:])
    assert feats[0].grad is None  # level 0 was passed through, never used
    params = [p for p in neck.parameters() if p.grad is not None]
    assert params, 'the JBU parameters must receive gradients'


def test_output_stride_sets_the_grid_from_the_image():
    feats, image = pyramid(size=64)
    neck = FeatUpNeck(CHANNELS, in_index=[2, 3], upsampler=dict(type='Bilinear'),
                      guidance=None, output_stride=8)
    outs = neck(feats, image)
    assert outs[2].shape[-2:] == (8, 8) and outs[3].shape[-2:] == (8, 8)
    assert outs[0].shape[-2:] == (16, 16)  # untouched
    non_square = torch.randn(2, 3, 64, 72)
    feats = [torch.randn(2, c, -(-64 // s), -(-72 // s)) for c, s in zip(CHANNELS, (4, 8, 16, 32))]
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type='Bilinear'), guidance=None, output_stride=4)
    assert neck(feats, non_square)[3].shape[-2:] == (16, 18)


def test_feature_guidance_uses_the_finer_level():
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, in_index=[1, 2, 3], upsampler=dict(type='JBUStack'),
                      guidance=0)
    assert all(m.guidance_channels == CHANNELS[0] for m in neck.upsamplers)
    outs = neck(feats)  # no image needed
    assert outs[3].shape == (2, 32, 16, 16)
    # the guidance really matters: another level-0 map changes the output
    other = list(feats)
    other[0] = torch.randn_like(feats[0])
    neck.eval()
    assert not torch.allclose(neck(feats)[3], neck(other)[3])


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_index=[4]), 'in_index=4 is out of range'),
    (dict(in_index=[1, 1]), 'duplicates'),
    (dict(guidance=7), 'guidance=7 is out of range'),
    (dict(guidance=2), 'also upsampled'),
    (dict(guidance='depth'), "guidance must be 'image'"),
    (dict(output_stride=0), 'output_stride'),
])
def test_bad_config_raises(kwargs, match):
    args = dict(upsampler=dict(type='Bilinear'), guidance=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        FeatUpNeck(CHANNELS, **args)


def test_guidance_required_by_upsampler():
    with pytest.raises(ValueError, match='requires guidance'):
        FeatUpNeck(CHANNELS, upsampler=dict(type='JBUStack'), guidance=None)


def test_unknown_upsampler_type():
    with pytest.raises(KeyError, match='NoSuchUpsampler'):
        FeatUpNeck(CHANNELS, upsampler=dict(type='NoSuchUpsampler'))


def test_channel_and_level_mismatch_at_run_time():
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type='Bilinear'), guidance=None)
    wrong = list(feats)
    wrong[2] = torch.randn(2, 25, 4, 4)
    with pytest.raises(ValueError, match=r'level 2 has shape .*in_channels\[2\]=24'):
        neck(wrong, image)
    with pytest.raises(ValueError, match='got 3 feature levels'):
        neck(feats[:3], image)


def test_missing_image_names_the_segmentor():
    feats, _ = pyramid()
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type='JBUStack'), guidance='image')
    with pytest.raises(ValueError, match='GuidedEncoderDecoder'):
        neck(feats)


def test_level_finer_than_output_grid_raises():
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, in_index=[0, 3], upsampler=dict(type='Bilinear'),
                      guidance=None, output_stride=8)
    with pytest.raises(ValueError, match='finer than the output grid'):
        neck(feats, image)


@pytest.mark.parametrize('name', ['PixelShuffle', 'CARAFE', 'Deconv'])
def test_neck_derives_per_level_ratios_of_fixed_ratio_upsamplers(name):
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type=name), guidance=None)
    assert neck.strides == [4, 8, 16, 32]
    assert [m.scale for m in neck.upsamplers] == [2, 4, 8]
    assert [tuple(o.shape[-2:]) for o in neck(feats, image)] == [(16, 16)] * 4
    # onto a stride-8 grid: levels 2 and 3 only, x2 and x4
    coarse = FeatUpNeck(CHANNELS, in_index=[2, 3], upsampler=dict(type=name), guidance=None,
                        output_stride=8)
    assert [m.scale for m in coarse.upsamplers] == [2, 4]
    assert [tuple(o.shape[-2:]) for o in coarse(feats, image)[2:]] == [(8, 8)] * 2


def test_neck_ratios_follow_the_given_strides():
    feats, image = pyramid()
    dilated = FeatUpNeck(CHANNELS, upsampler=dict(type='PixelShuffle'), guidance=None,
                         strides=[4, 8, 8, 8])
    assert [m.scale for m in dilated.upsamplers] == [2, 2, 2]
    with pytest.raises(ValueError, match='built for x2'):  # the features are not dilated
        dilated(feats, image)
    with pytest.raises(ValueError, match='not an integer multiple'):
        FeatUpNeck(CHANNELS, upsampler=dict(type='PixelShuffle'), guidance=None,
                   strides=[4, 6, 16, 32])
    with pytest.raises(ValueError, match='one positive stride per level'):
        FeatUpNeck(CHANNELS, upsampler=dict(type='Bilinear'), strides=[4, 8])
    # an explicit scale_factor in the upsampler config is left alone
    fixed = FeatUpNeck(CHANNELS, in_index=[1], upsampler=dict(type='PixelShuffle', scale_factor=2),
                       guidance=None)
    assert [m.scale for m in fixed.upsamplers] == [2]


def test_scale_factors_build_fixed_ratio_upsamplers_per_level():
    feats, image = pyramid()
    neck = FeatUpNeck(CHANNELS, upsampler=dict(type='PixelShuffle'), guidance=None,
                      scale_factors=[2, 4, 8])
    assert [m.scale_factor for m in neck.upsamplers] == [2, 4, 8]
    outs = neck(feats, image)
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 16)] * 4
    with pytest.raises(ValueError, match='one ratio per in_index level'):
        FeatUpNeck(CHANNELS, upsampler=dict(type='PixelShuffle'), guidance=None,
                   scale_factors=[2, 4])
