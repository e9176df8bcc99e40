import pytest
import torch

import mmfeatup.models  # noqa: F401
from mmfeatup.models.featurizers import EfficientNetLite, default_lite0_weights
from mmfeatup.registry import MODELS


@pytest.fixture(scope='module')
def lite0():
    return EfficientNetLite(arch='lite0', pretrained=True).eval()


def test_levels_strides_channels(lite0):
    assert lite0.strides == [2, 4, 8, 16, 32]
    assert lite0.channels == [16, 24, 40, 112, 320]
    assert lite0.out_channels == (16, 24, 40, 112, 320)


def test_odd_size_shapes(lite0):
    with torch.no_grad():
        outs = lite0(torch.randn(2, 3, 97, 121))
    for out, stride, channels in zip(outs, lite0.strides, lite0.channels):
        assert out.shape == (2, channels, -(-97 // stride), -(-121 // stride))
        assert torch.isfinite(out).all()


def test_pretrained_weights_loaded(lite0):
    state = torch.load(default_lite0_weights(), map_location='cpu', weights_only=True)
    assert torch.equal(lite0.stem[0].weight, state['_conv_stem.weight'])
    assert torch.equal(lite0.blocks[10]._project_conv.weight,
                       state['_blocks.10._project_conv.weight'])


def test_registry_and_out_indices():
    model = MODELS.build(dict(type='EfficientNetLite', out_indices=(3, -1)))
    assert model.out_indices == (3, 4)
    outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [112, 320]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='arch'):
        EfficientNetLite(arch='b0')
    with pytest.raises(ValueError, match='out_indices'):
        EfficientNetLite(out_indices=(5, ))
    with pytest.raises(FileNotFoundError, match='weights_path'):
        EfficientNetLite(weights_path=str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='weights_path'):
        EfficientNetLite(arch='lite1', pretrained=True)
    with pytest.raises(ValueError, match=r'\[B, 3, H, W\]'):
        EfficientNetLite()(torch.randn(1, 4, 32, 32))


def test_norm_eval_keeps_bn_frozen():
    model = EfficientNetLite(norm_eval=True).train()
    assert model.training
    assert not model.stem[1].training
