"""LoftUp: shapes, gradients, per-pixel normalised output, the Fourier features by
definition, batch (in)dependence of the image scaling, official key layout, errors."""
import pytest
import torch
from torch import nn

import mmfeatup.models  # noqa: F401
from mmfeatup.models.upsamplers import LoftUpUpsampler
from mmfeatup.models.upsamplers.loftup import (FourierFeaturizer, convert_loftup_hub_state_dict,
                                               minmax_scale)


def tiny(channels=4, **kwargs):
    torch.manual_seed(0)
    return LoftUpUpsampler(channels, n_freqs=2, num_layers=1, **kwargs)


def test_gradcheck_float64(gradcheck_upsampler):
    # one frequency, exp(-2): the default top frequency exp(10) makes finite differences useless
    torch.manual_seed(0)
    assert gradcheck_upsampler(LoftUpUpsampler(4, n_freqs=1, num_layers=1), 4)


def test_output_is_layer_normalised_per_pixel():
    model = tiny(channels=8).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 8, 3, 4), torch.rand(2, 3, 9, 10), output_size=(9, 10))
    assert torch.allclose(out.mean(1), torch.zeros(2, 9, 10), atol=1e-5)
    assert torch.allclose(out.var(1, unbiased=False), torch.ones(2, 9, 10), atol=1e-3)


def test_fourier_features_by_definition():
    torch.manual_seed(0)
    layer = FourierFeaturizer(True, n_freqs=3)
    image = torch.rand(1, 3, 4, 5)
    out = layer(image)
    assert out.shape == (1, layer.out_channels, 4, 5) and layer.out_channels == 33
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 4), torch.linspace(-1, 1, 5), indexing='ij')
    values = torch.cat([ys[None], xs[None], image[0]])  # D = 5
    freqs = torch.exp(torch.linspace(-2, 10, 3))
    bias = layer.biases.detach().reshape(2, 3, 5)
    for f in range(3):
        for d in range(5):
            assert torch.allclose(out[0, f * 5 + d],
                                  torch.sin(freqs[f] * values[d] + bias[0, f, d]), atol=1e-4)
            assert torch.allclose(out[0, 15 + f * 5 + d],
                                  torch.cos(freqs[f] * values[d] + bias[1, f, d]), atol=1e-4)
    assert torch.equal(out[0, 30:], image[0])


def test_image_scaling_over_the_batch_or_per_image():
    x = torch.rand(2, 3, 4, 4)
    x[1] *= 5
    pooled, alone = minmax_scale(x), minmax_scale(x, per_image=True)
    assert pooled.amin() == -0.5 and pooled.amax() == 0.5
    assert torch.allclose(alone[1], minmax_scale(x[1:]), atol=1e-6)
    model = tiny(minmax_per_image=True).eval()
    source, guidance = torch.randn(2, 4, 3, 3), torch.rand(2, 3, 6, 6)
    guidance[1] *= 0.3
    with torch.no_grad():
        both = model(source, guidance)
        first = model(source[:1], guidance[:1])
    assert torch.allclose(both[:1], first, atol=1e-5)


def official_loftup_shapes(dim=384, n_freqs=20, layers=2):
    """The official LoftUp(dim, lr_pe_type='sine') state-dict keys and shapes."""
    width = dim + 20
    start = 5 * n_freqs * 2 + 3
    shapes = {'lr_pe.biases': (2, 2, 5), 'fourier_feat.1.biases': (2, 5, n_freqs),
              'first_conv.0.norm.weight': (start,), 'first_conv.0.norm.bias': (start,),
              'first_conv.1.weight': (width, start, 3, 3), 'first_conv.1.bias': (width,),
              'first_conv.4.weight': (width, width, 3, 3), 'first_conv.4.bias': (width,),
              'final_conv.0.weight': (dim, width, 1, 1), 'final_conv.0.bias': (dim,),
              'final_conv.1.weight': (dim,), 'final_conv.1.bias': (dim,),
              'ca_transformer.norm.weight': (width,), 'ca_transformer.norm.bias': (width,)}
    for index in (2, 5):
        for key, value in nn.BatchNorm2d(width).state_dict().items():
            shapes[f'first_conv.{index}.{key}'] = tuple(value.shape)
    for i in range(layers):
        base = f'ca_transformer.layers.{i}'
        for norm in ('norm_q', 'norm_kv'):
            shapes[f'{base}.0.{norm}.weight'] = shapes[f'{base}.0.{norm}.bias'] = (width,)
        for key, value in nn.MultiheadAttention(width, 4).state_dict().items():
            shapes[f'{base}.0.attention.{key}'] = tuple(value.shape)
        shapes[f'{base}.1.net.0.weight'] = shapes[f'{base}.1.net.0.bias'] = (width,)
        shapes[f'{base}.1.net.1.weight'], shapes[f'{base}.1.net.1.bias'] = (dim, width), (dim,)
        shapes[f'{base}.1.net.4.weight'], shapes[f'{base}.1.net.4.bias'] = (width, dim), (width,)
    return shapes


def test_official_state_dict_loads_strictly():
    shapes = official_loftup_shapes()
    model = LoftUpUpsampler(384)
    ours = model.state_dict()
    assert set(ours) == set(shapes)
    assert all(tuple(ours[k].shape) == shapes[k] for k in ours)
    assert sum(p.numel() for p in model.parameters()) == 4303126
    official = {k: (torch.randn(s) if ours[k].is_floating_point() else ours[k])
                for k, s in shapes.items()}
    model.load_state_dict(official, strict=True)
    hub = {f'upsampler.{k}': v for k, v in official.items()}
    hub['channelnorm.norm.weight'], hub['channelnorm.norm.bias'] = torch.ones(384), torch.zeros(384)
    LoftUpUpsampler(384, input_norm=True).load_state_dict(convert_loftup_hub_state_dict(hub),
                                                          strict=True)
    with pytest.raises(KeyError, match='unexpected key'):
        convert_loftup_hub_state_dict({'model.1.norm.weight': torch.ones(1)})


def test_clear_errors():
    with pytest.raises(ValueError, match='num_heads must divide in_channels \\+ 20 = 26'):
        LoftUpUpsampler(6)
    with pytest.raises(ValueError, match='RGB image'):
        LoftUpUpsampler(8, guidance_channels=4)
    with pytest.raises(ValueError, match='n_freqs must be a positive int'):
        LoftUpUpsampler(8, n_freqs=0)
    with pytest.raises(ValueError, match='num_layers must be a positive int'):
        LoftUpUpsampler(8, num_layers=0)
    with pytest.raises(ValueError, match='guidance is required'):
        tiny()(torch.randn(1, 4, 2, 2), output_size=(4, 4))
