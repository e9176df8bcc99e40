"""mmfeatup.analysis.flop_handles: the mmfeatup ops are counted by mmengine's analyzers.

Every expected count is computed by hand from the shapes (one multiply-add = 1 FLOP,
``T = (2r+1)^2`` taps), never with the handles under test.
"""

import pytest
import torch
from torch import Tensor, nn

from mmfeatup.analysis import flop_handles as fh  # the module


class AdaptiveConv(nn.Module):

    def forward(self, input: Tensor, weights: Tensor) -> Tensor:
        return torch.ops.mmfeatup.adaptive_conv(input, weights)


class RangeKernel(nn.Module):

    def __init__(self, radius: int) -> None:
        super().__init__()
        self.radius = radius

    def forward(self, keys: Tensor, temperature: Tensor) -> Tensor:
        return torch.ops.mmfeatup.range_kernel(keys, temperature, self.radius)


class JBUUpsample(nn.Module):

    def __init__(self, radius: int) -> None:
        super().__init__()
        self.radius = radius

    def forward(self, padded: Tensor, keys: Tensor, temperature: Tensor,
                sigma: Tensor) -> Tensor:
        return torch.ops.mmfeatup.jbu_upsample(padded, keys, temperature, sigma, self.radius)


def _analyze(model: nn.Module, *inputs: Tensor):
    from mmengine.analysis import ActivationAnalyzer, FlopAnalyzer
    flops = FlopAnalyzer(model, inputs).unsupported_ops_warnings(False)
    acts = ActivationAnalyzer(model, inputs).unsupported_ops_warnings(False)
    return flops, acts


def _jbu_inputs(b: int, c: int, d: int, h: int, w: int, r: int):
    gen = torch.Generator().manual_seed(0)
    padded = torch.randn(b, c, h + 2 * r, w + 2 * r, generator=gen)
    keys = torch.randn(b, d, h, w, generator=gen)
    return padded, keys, torch.tensor(2.0), torch.tensor(1.0)


def test_ops_are_unsupported_without_registration(compiled_ops, default_tables):
    """The defect being fixed: mmengine alone counts nothing for the ops."""
    x = torch.randn(1, 2, 5, 6)
    flops, _ = _analyze(AdaptiveConv(), x, torch.rand(1, 9, 3, 4))
    assert flops.total() == 0
    assert flops.unsupported_ops() == {'mmfeatup::adaptive_conv': 1}


def test_adaptive_conv_counts_output_times_taps(compiled_ops, default_tables):
    fh.register_flop_handles()
    b, c, h, w, r = 2, 3, 6, 8, 1
    x = torch.randn(b, c, h + 2 * r, w + 2 * r)
    weights = torch.rand(b, 9, h, w)
    flops, acts = _analyze(AdaptiveConv(), x, weights)
    assert flops.total() == 2 * 3 * 6 * 8 * 9 == 2592
    assert flops.by_operator() == {'adaptive_conv': 2592}
    assert not flops.unsupported_ops()
    assert acts.total() == 2 * 3 * 6 * 8  # output elements
    assert not acts.unsupported_ops()


def test_range_kernel_counts_taps_times_key_dim(compiled_ops, default_tables):
    fh.register_flop_handles()
    b, d, h, w, r = 2, 5, 6, 8, 2
    keys = torch.randn(b, d, h, w)
    flops, acts = _analyze(RangeKernel(r), keys, torch.tensor(3.0))
    assert flops.total() == 2 * 25 * 6 * 8 * 5 == 12000  # [B, T, H, W] outputs x D
    assert not flops.unsupported_ops()
    assert acts.total() == 2 * 25 * 6 * 8
    assert not acts.unsupported_ops()


def test_jbu_upsample_counts_range_kernel_plus_adaptive_conv(compiled_ops, default_tables):
    fh.register_flop_handles()
    b, c, d, h, w, r = 1, 3, 4, 6, 8, 2  # non-square: the diameter comes from the widths
    flops, acts = _analyze(JBUUpsample(r), *_jbu_inputs(b, c, d, h, w, r))
    assert flops.total() == 1 * 3 * 6 * 8 * 25 + 1 * 4 * 6 * 8 * 25 == 8400
    assert flops.by_operator() == {'jbu_upsample': 8400}
    assert not flops.unsupported_ops()
    assert acts.total() == 3 * 6 * 8


class BicubicAdaptiveConv(torch.nn.Module):

    def forward(self, source, weights):
        return torch.ops.mmfeatup.bicubic_adaptive_conv(source, weights)


def test_bicubic_adaptive_conv_counts_the_filter_plus_the_resize(compiled_ops, default_tables):
    fh.register_flop_handles()
    source, weights = torch.randn(2, 3, 3, 4), torch.randn(2, 25, 6, 8)  # r = 2
    flops, acts = _analyze(BicubicAdaptiveConv(), source, weights)
    assert flops.total() == 2 * 3 * 6 * 8 * 25 + 8 * 2 * 3 * 10 * 12 == 12960
    assert not flops.unsupported_ops()
    assert acts.total() == 2 * 3 * 6 * 8


def test_authors_weight_layout_counts_the_same(compiled_ops):
    """``[B, H, W, d, d]`` weights (the authors' layout) give the taps from the last two dims."""

    class _Type:

        def __init__(self, shape):
            self.shape = shape

        def sizes(self):
            return list(self.shape)

    class _Value:
        """Just enough of ``torch._C.Value`` for mmengine's ``get_shape``."""

        def __init__(self, *shape):
            self.shape = shape

        def isCompleteTensor(self):
            return True

        def type(self):
            return _Type(self.shape)

    out = _Value(2, 3, 6, 8)
    assert fh.adaptive_conv_flop_jit([_Value(2, 3, 10, 12), _Value(2, 6, 8, 5, 5)], [out]) == \
        2 * 3 * 6 * 8 * 25
    assert fh.adaptive_conv_flop_jit([_Value(2, 3, 10, 12), _Value(2, 25, 6, 8)], [out]) == \
        2 * 3 * 6 * 8 * 25


def test_registration_covers_both_spellings_and_is_idempotent(default_tables):
    flop_table = default_tables['_DEFAULT_SUPPORTED_FLOP_OPS']
    act_table = default_tables['_DEFAULT_SUPPORTED_ACT_OPS']
    before = len(flop_table), len(act_table)
    fh.register_flop_handles()
    first = dict(flop_table), dict(act_table)
    fh.register_flop_handles()
    assert (dict(flop_table), dict(act_table)) == first  # same objects, same keys
    names = ('adaptive_conv', 'range_kernel', 'jbu_upsample', 'bicubic_adaptive_conv')
    for name in names:
        for kind in (f'mmfeatup::{name}', f'aten::mmfeatup::{name}'):
            assert flop_table[kind] is fh.OP_FLOP_HANDLES[name]
            assert act_table[kind] is fh.output_activation_jit
    assert len(flop_table) == before[0] + 2 * len(names)
    assert len(act_table) == before[1] + 2 * len(names)


def test_every_traced_op_of_the_library_has_a_handle(compiled_ops):
    """A new ``mmfeatup::`` op must get a formula (or be listed as backward-only)."""
    schemas = {s.name.split('::', 1)[1] for s in torch._C._jit_get_all_schemas()
               if s.name.startswith('mmfeatup::')}
    assert schemas, 'no mmfeatup op is registered'
    assert schemas == set(fh.OP_FLOP_HANDLES) | set(fh.UNTRACED_OPS)
    assert not set(fh.OP_FLOP_HANDLES) & set(fh.UNTRACED_OPS)


def _stage_sizes(source, output):
    from mmfeatup.models.upsamplers.jbu import plan_stage_sizes
    return plan_stage_sizes(source, output)


@pytest.mark.parametrize('kind', ['JBUStack', 'JBUFused'])
def test_jbu_upsamplers_count_their_ops_through_get_model_complexity_info(
        compiled_ops, default_tables, kind):
    """Every stage of a real JBU is counted; the model total includes those counts."""
    from mmengine.analysis import FlopAnalyzer, get_model_complexity_info

    from mmfeatup.registry import build_upsampler
    fh.register_flop_handles()
    b, c, key_dim, radius = 1, 4, 32, 3  # JBUStack defaults: key_dim 32, radius 3
    taps = (2 * radius + 1)**2
    model = build_upsampler(dict(type=kind, scale_factor=4), in_channels=c).eval()
    source, image = torch.randn(b, c, 4, 5), torch.rand(b, 3, 16, 20)
    stages = _stage_sizes((4, 5), (16, 20))
    assert stages == [(8, 10), (16, 20)]
    adaptive = sum(b * c * h * w * taps for h, w in stages)
    range_k = sum(b * taps * h * w * key_dim for h, w in stages)

    by_op = FlopAnalyzer(model, (source, image)).unsupported_ops_warnings(False).by_operator()
    if kind == 'JBUStack':  # on CPU its stages run the fused resize + filter op
        resize = sum(8 * b * c * (h + 2 * radius) * (w + 2 * radius) for h, w in stages)
        assert by_op['bicubic_adaptive_conv'] == adaptive + resize
        assert by_op['range_kernel'] == range_k and 'adaptive_conv' not in by_op
    else:
        assert by_op['jbu_upsample'] == adaptive + range_k
    info = get_model_complexity_info(model, inputs=(source, image), show_table=False,
                                     show_arch=False)
    assert info['flops'] == sum(by_op.values()) > adaptive + range_k


def test_importing_the_package_registers_nothing(fresh_python):
    code = ('import mmfeatup.analysis, sys; '
            'from mmengine.analysis import complexity_analysis as ca; '
            "assert not [k for k in ca._DEFAULT_SUPPORTED_FLOP_OPS if 'mmfeatup' in k]; "
            "assert not [k for k in ca._DEFAULT_SUPPORTED_ACT_OPS if 'mmfeatup' in k]; "
            "assert 'mmfeatup._ext' not in sys.modules")
    fresh_python(code)

