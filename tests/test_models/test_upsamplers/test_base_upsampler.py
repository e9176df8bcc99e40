import pytest
import torch

from mmfeatup.registry import UPSAMPLERS, build_upsampler
from mmfeatup.models.upsamplers import BaseUpsampler, integer_ratio, resize_guidance, to_size


def test_build_and_registry():
    up = build_upsampler(dict(type='Bilinear'), in_channels=4)
    assert isinstance(up, BaseUpsampler) and up.in_channels == 4
    assert build_upsampler(up) is up
    with pytest.raises(KeyError, match='NoSuchUpsampler'):
        build_upsampler(dict(type='NoSuchUpsampler'), in_channels=4)
    with pytest.raises(ValueError, match='type'):
        build_upsampler(dict(in_channels=4))
    assert {'Nearest', 'Bilinear', 'Bicubic'} <= set(UPSAMPLERS.module_dict)


def test_output_size_resolution():
    src = torch.randn(2, 3, 5, 7)
    up = build_upsampler(dict(type='Bilinear'), in_channels=3)
    assert up(src, output_size=(11, 13)).shape == (2, 3, 11, 13)
    assert up(src, output_size=9).shape == (2, 3, 9, 9)
    assert up(src, torch.randn(2, 3, 20, 28)).shape == (2, 3, 20, 28)
    with pytest.raises(ValueError, match='output_size'):
        up(src)
    scaled = build_upsampler(dict(type='Nearest', scale_factor=2.5), in_channels=3)
    assert scaled(src).shape == (2, 3, 13, 18)


def test_bad_inputs_named():
    up = build_upsampler(dict(type='Bicubic'), in_channels=3)
    with pytest.raises(ValueError, match='source'):
        up(torch.randn(3, 5, 7), output_size=10)
    with pytest.raises(ValueError, match='channels'):
        up(torch.randn(1, 4, 5, 7), output_size=10)
    with pytest.raises(ValueError, match='empty'):
        up(torch.randn(0, 3, 5, 7), output_size=10)
    with pytest.raises(ValueError, match='output_size'):
        up(torch.randn(1, 3, 5, 7), output_size=(0, 3))


def test_helpers():
    assert to_size(4) == (4, 4)
    assert integer_ratio((4, 6), (8, 12), 'x') == 2
    with pytest.raises(ValueError, match='integer ratio'):
        integer_ratio((4, 6), (8, 13), 'x')
    g = torch.arange(16.).reshape(1, 1, 4, 4)
    assert torch.equal(resize_guidance(g, (2, 2)),
                       torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert resize_guidance(g, (4, 4)) is g
    assert resize_guidance(g, (8, 8)).shape[-2:] == (8, 8)


@pytest.mark.parametrize('shape,size', [((2, 3, 5, 7), (11, 13)), ((1, 1, 9, 4), (9, 20)),
                                        ((3, 2, 20, 30), (15, 45)), ((1, 4, 6, 6), (96, 96))])
def test_bicubic_resize_matches_interpolate(shape, size):
    from mmfeatup.models.upsamplers.base import bicubic_resize
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.interpolate(x, size, mode='bicubic', align_corners=False)
    got = bicubic_resize(x, size)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=0, atol=1e-12)
    grad = torch.randn_like(expected)
    g1, = torch.autograd.grad(expected, x, grad)
    g2, = torch.autograd.grad(got, x, grad)
    assert torch.allclose(g1, g2, rtol=0, atol=1e-12)
    assert bicubic_resize(x, shape[-2:]) is x


@pytest.mark.parametrize('shape,size,pad', [((2, 3, 14, 14), (28, 28), 3),
                                            ((1, 2, 56, 40), (112, 80), 5),
                                            ((2, 1, 5, 7), (5, 7), 2), ((1, 2, 1, 1), (7, 9), 3),
                                            ((1, 3, 33, 9), (59, 17), 1)])
def test_bicubic_resize_reflect_pad(shape, size, pad):
    """The banded resize with folded reflect padding equals interpolate + pad, values and
    gradients, and is channels-last in memory."""
    from mmfeatup.models.upsamplers.base import bicubic_resize
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.pad(
        torch.nn.functional.interpolate(x, size, mode='bicubic', align_corners=False),
        [pad] * 4, mode='reflect')
    got = bicubic_resize(x, size, pad=pad)
    assert got.shape == expected.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    grad = torch.randn_like(expected)
    torch.testing.assert_close(torch.autograd.grad(got, x, grad)[0],
                               torch.autograd.grad(expected, x, grad)[0], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match='reflect pad'):
        bicubic_resize(x, size, pad=min(size))
