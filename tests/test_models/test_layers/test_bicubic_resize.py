"""The banded bicubic resize equals PyTorch's interpolate (+ reflect pad), values and grads."""
import pytest
import torch

from mmfeatup.models.layers.bicubic_resize import bicubic_resize


@pytest.mark.parametrize('shape,size', [((2, 3, 5, 7), (11, 13)), ((1, 1, 9, 4), (9, 20)),
                                        ((3, 2, 20, 30), (15, 45)), ((1, 4, 6, 6), (96, 96))])
def test_bicubic_resize_matches_interpolate(shape, size):
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
                                            ((1, 3, 33, 9), (59, 17), 1),
                                            # ragged last band tiles: 137 and 103 padded rows
                                            # (primes), 454 = 2 x 227 (the stage to 448 px)
                                            ((2, 3, 29, 31), (131, 97), 3),
                                            ((1, 1, 224, 20), (448, 40), 3)])
def test_bicubic_resize_reflect_pad(shape, size, pad):
    """The banded resize with folded reflect padding equals interpolate + pad, values and
    gradients, and is channels-last in memory."""
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


def test_rows_without_a_good_divisor_stay_banded():
    """454 padded rows (2 x 227) used to fall back to one dense 454 x 227 product."""
    from mmfeatup.models.layers.bicubic_resize import _bicubic_band
    band = _bicubic_band(224, 448, 3, torch.float64, torch.device('cpu'))
    tiles, tile, span = band.weight.shape
    assert band.rows == 454 and tiles * tile >= 454 > (tiles - 1) * tile
    assert span < 32 and band.index is not None
