"""GuidedEncoderDecoder + FeatUpNeck: exactness vs stock SegFormer, three backbone families,
all inference paths (whole, slide, TTA) and the loss."""
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmfeatup.models  # noqa: F401
from mmfeatup.registry import MODELS

init_default_scope('mmseg')

NUM_CLASSES = 5
BN = dict(type='BN', requires_grad=True)
PREPROCESSOR = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255)

MIT = dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4,
           num_layers=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], patch_sizes=[7, 3, 3, 3],
           sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3), mlp_ratio=2, qkv_bias=True,
           drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0)
MIT_CHANNELS = [8, 16, 16, 32]
RESNET = dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
              stem_channels=16, base_channels=16, norm_cfg=BN, init_cfg=None)
RESNET_CHANNELS = [16, 32, 64, 128]
TIMM = dict(type='TIMMBackbone', model_name='lcnet_035', features_only=True, pretrained=False,
            out_indices=(1, 2, 3, 4))
TIMM_CHANNELS = [24, 48, 88, 176]


RELU = dict(type='ReLU')


def segformer(backbone, channels, neck=None, segmentor='GuidedEncoderDecoder', head_act=RELU,
              test_cfg=None):
    """A small SegFormer-style model: backbone -> [neck] -> SegformerHead."""
    cfg = dict(
        type=segmentor, data_preprocessor=PREPROCESSOR, backbone=copy.deepcopy(backbone),
        decode_head=dict(type='SegformerHead', in_channels=channels, in_index=[0, 1, 2, 3],
                         channels=16, dropout_ratio=0.1, num_classes=NUM_CLASSES, norm_cfg=BN,
                         act_cfg=head_act, align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                          loss_weight=1.0)),
        train_cfg=dict(), test_cfg=test_cfg or dict(mode='whole'))
    if neck is not None:
        cfg['neck'] = dict(type='FeatUpNeck', in_channels=channels, **neck)
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(cfg))


def samples(batch, size):
    gen = torch.Generator().manual_seed(1)
    out = []
    for _ in range(batch):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, size, size), generator=gen))
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                                 pad_shape=(size, size), padding_size=[0, 0, 0, 0]))
        out.append(sample)
    return out


def images(batch, size, seed=2):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_bilinear_neck_is_exactly_stock_segformer_where_the_math_allows():
    """Same weights, same outputs.

    SegformerHead computes ``resize(act(BN(conv1x1(x_i))))`` per level; the neck moves the
    bilinear resize in front: ``act(BN(conv1x1(resize(x_i))))``. In eval mode conv1x1 + BN is
    an affine per-pixel map and bilinear weights sum to one, so both orders agree exactly when
    the head's per-level activation is the identity (``act_cfg=None``): that is what this
    test pins, for the whole model (backbone, neck, head, fusion, classifier). With the stock
    ReLU the orders differ by design (the neck then feeds the head full-resolution features,
    which is the point of a feature upsampler).
    """
    stock = segformer(MIT, MIT_CHANNELS, segmentor='EncoderDecoder', head_act=None)
    ours = segformer(MIT, MIT_CHANNELS, head_act=None,
                     neck=dict(upsampler=dict(type='Bilinear'), guidance=None))
    assert not stock.decode_head.convs[1].with_activation
    missing, unexpected = ours.load_state_dict(stock.state_dict(), strict=False)
    assert not missing and not unexpected  # Bilinear has no parameters: same weights
    stock.eval()
    ours.eval()
    x = images(2, 64)
    with torch.no_grad():
        reference = stock(x, mode='tensor')
        result = ours(x, mode='tensor')
        # the head's own resizes are now identities: neck output is already at stride 4
        feats = ours.extract_feat(x)
    assert all(f.shape[-2:] == feats[0].shape[-2:] for f in feats)
    assert result.shape == reference.shape == (2, NUM_CLASSES, 16, 16)
    torch.testing.assert_close(result, reference, rtol=1e-5, atol=1e-5)
    assert (result - reference).abs().max() < 1e-4 * reference.abs().max()


@pytest.mark.parametrize('backbone, channels', [
    (MIT, MIT_CHANNELS), (RESNET, RESNET_CHANNELS), (TIMM, TIMM_CHANNELS)],
    ids=['MixVisionTransformer', 'ResNetV1c', 'TIMMBackbone-lcnet_035'])
def test_three_backbone_families_all_modes(backbone, channels):
    model = segformer(backbone, channels, neck=dict(upsampler=dict(type='JBUStack')))
    x = images(2, 64)
    feats = model.extract_feat(x)
    assert all(f.shape[-2:] == feats[0].shape[-2:] for f in feats)
    logits = model(x, mode='tensor')
    assert logits.shape[:2] == (2, NUM_CLASSES)
    losses = model(x, samples(2, 64), mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()
    jbu_grads = [p.grad for p in model.neck.parameters() if p.grad is not None]
    assert jbu_grads and any(g.abs().sum() > 0 for g in jbu_grads)
    model.eval()
    with torch.no_grad():
        preds = model(x, samples(2, 64), mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert preds[0].seg_logits.data.shape == (NUM_CLASSES, 64, 64)


def test_each_slide_window_crop_gets_its_own_image_crop():
    model = segformer(MIT, MIT_CHANNELS, neck=dict(upsampler=dict(type='JBUStack')),
                      test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
    model.eval()
    seen = []
    original = model.neck.forward

    def spy(inputs, image=None):
        seen.append(image)
        return original(inputs, image)

    model.neck.forward = spy
    x = images(1, 96)
    batch = model.data_preprocessor(dict(inputs=[(x[0] * 255).byte()],
                                         data_samples=samples(1, 96)), training=False)
    with torch.no_grad():
        preds = model(batch['inputs'], batch['data_samples'], mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 96, 96)
    assert len(seen) == 4  # 2 x 2 windows
    corners = [(0, 0), (0, 32), (32, 0), (32, 32)]
    for image, (y, x0) in zip(seen, corners):
        assert image.shape[-2:] == (64, 64)
        assert torch.equal(image, batch['inputs'][:, :, y:y + 64, x0:x0 + 64])


def test_tta_averages_views_through_the_guided_model():
    model = segformer(MIT, MIT_CHANNELS, neck=dict(upsampler=dict(type='JBUStack')))
    model.eval()
    tta = MODELS.build(dict(type='SegTTAModel', module=model))
    raw = (images(1, 64)[0] * 255).byte()

    def view_data(flip):
        sample = samples(1, 64)[0]
        sample.set_metainfo(dict(flip=flip, flip_direction='horizontal' if flip else None,
                                 img_path='demo.jpg'))
        return [raw.flip(-1) if flip else raw], [sample]

    views = [view_data(False), view_data(True)]
    data = dict(inputs=[v[0] for v in views], data_samples=[v[1] for v in views])
    with torch.no_grad():
        merged = tta.test_step(data)
        logits = [model.test_step(dict(inputs=i, data_samples=s))[0].seg_logits.data
                  for i, s in (view_data(False), view_data(True))]
    # the flipped view's logits come back un-flipped, so they nearly agree with the plain view
    assert logits[0].shape == logits[1].shape == (NUM_CLASSES, 64, 64)
    expected = (logits[0].softmax(0) + logits[1].softmax(0)).argmax(0)
    assert torch.equal(merged[0].pred_sem_seg.data.reshape(expected.shape), expected)


def test_stock_encoder_decoder_with_image_guided_neck_fails_clearly():
    model = segformer(MIT, MIT_CHANNELS, segmentor='EncoderDecoder',
                      neck=dict(upsampler=dict(type='JBUStack')))
    with pytest.raises(ValueError, match="type='GuidedEncoderDecoder'"):
        model(images(1, 64), mode='tensor')


def test_neck_channels_must_match_the_backbone():
    model = segformer(MIT, [8, 16, 24, 32], neck=dict(upsampler=dict(type='Bilinear'),
                                                      guidance=None))
    with pytest.raises(ValueError, match=r'in_channels\[2\]=24'):
        model(images(1, 64), mode='tensor')


def test_neck_without_in_channels_takes_the_decode_heads():
    """The FeatUp neck fragment (configs/_base_/models/featup_neck.py) sets no channels: the
    segmentor hands the neck the head's, and a neck that changes channels gets nothing."""
    cfg = dict(type='GuidedEncoderDecoder', data_preprocessor=PREPROCESSOR,
               backbone=copy.deepcopy(MIT), neck=dict(type='FeatUpNeck', guidance=None,
                                                      upsampler=dict(type='Bilinear')),
               decode_head=dict(type='SegformerHead', in_channels=MIT_CHANNELS, in_index=[0, 1, 2, 3], channels=16,
                                num_classes=NUM_CLASSES, norm_cfg=BN))
    built = MODELS.build(ConfigDict(cfg))
    assert built.neck.in_channels == MIT_CHANNELS
    with torch.no_grad():
        assert built.eval()(images(1, 64), mode='tensor').shape == (1, NUM_CLASSES, 16, 16)
    # a neck without the flag (mmseg's FPN) is passed through untouched, so it still needs them
    cfg['neck'] = dict(type='FPN', out_channels=16, num_outs=4)
    with pytest.raises(TypeError, match='in_channels'):
        MODELS.build(ConfigDict(cfg))
