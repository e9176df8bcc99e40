import pytest
import torch

from mmfeatup.registry import UPSAMPLERS, build_upsampler
from mmfeatup.models.layers.windows import exact_integer_ratio
from mmfeatup.models.upsamplers import (BaseUpsampler, FixedRatioUpsampler, check_groups,
                                        check_odd, design_scale, resize_guidance, to_size)


def test_build_and_registry():
    up = build_upsampler(dict(type='Bilinear'), in_channels=4)
    assert isinstance(up, BaseUpsampler) and up.in_channels == 4
    assert build_upsampler(up) is up
    with pytest.raises(KeyError, match='NoSuchUpsampler'):
        build_upsampler(dict(type='NoSuchUpsampler'), in_channels=4)
    with pytest.raises(KeyError, match='type'):
        build_upsampler(dict(in_channels=4))
    # defaults never override what the config sets
    assert build_upsampler(dict(type='Bilinear', in_channels=2), in_channels=4).in_channels == 2
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
    assert exact_integer_ratio((4, 6), (8, 12)) == 2
    assert exact_integer_ratio((4, 6), (8, 13)) is None  # unequal
    assert exact_integer_ratio((4, 6), (6, 9)) is None  # x1.5
    assert exact_integer_ratio((4, 6), (2, 3)) is None  # downsampling
    assert check_odd('k', 5) == 5 and check_groups(2, 6) == 2 and design_scale(None, 'x') == 2
    for bad in (0, 4, -3, 2.5):
        with pytest.raises(ValueError, match='k must be a positive odd int'):
            check_odd('k', bad)
    for bad in (0, 4, -2):
        with pytest.raises(ValueError, match='groups must divide in_channels=6'):
            check_groups(bad, 6)
    for bad in (1.5, 0, -2):
        with pytest.raises(ValueError, match='scale_factor must be an integer >= 1'):
            design_scale(bad, 'x')
    g = torch.arange(16.).reshape(1, 1, 4, 4)
    assert torch.equal(resize_guidance(g, (2, 2)),
                       torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert resize_guidance(g, (4, 4)) is g
    assert resize_guidance(g, (8, 8)).shape[-2:] == (8, 8)


class _Repeat(FixedRatioUpsampler):
    """A scale-bound toy: records the sizes its upsample() is called with."""

    def __init__(self, in_channels, guidance_channels=3, scale_factor=None):
        super().__init__(in_channels, guidance_channels, scale_factor)
        self.calls = []

    def upsample(self, source, guidance, size):
        self.calls.append(tuple(size))
        return source.repeat_interleave(self.scale, 2).repeat_interleave(self.scale, 3)


def test_fixed_ratio_base_checks_the_design_ratio_before_upsample():
    up = _Repeat(2, scale_factor=3)
    assert up.fixed_ratio and up.scale == 3 and up.scale_factor == 3
    x = torch.randn(1, 2, 4, 5)
    assert up(x).shape == (1, 2, 12, 15)  # scale_factor decides the size
    for size in ((8, 10), (12, 16), (13, 15), (24, 30)):
        with pytest.raises(ValueError, match='built for x3'):
            up(x, output_size=size)
    assert up.calls == [(12, 15)]  # rejected sizes never reach upsample()
    with pytest.raises(ValueError, match='scale_factor must be an integer'):
        _Repeat(2, scale_factor=2.5)
