"""Bad inputs get clear errors naming the argument (public API and the raw ops)."""
import pytest
import torch

from mmfeatup.ops import adaptive_conv, jbu_upsample, range_kernel

F64 = torch.float64


def _conv_args(**overrides):
    args = dict(input=torch.randn(2, 3, 7, 8, dtype=F64), weights=torch.randn(2, 9, 5, 6, dtype=F64))
    args.update(overrides)
    return args


def _range_args(**overrides):
    args = dict(keys=torch.randn(2, 3, 5, 6, dtype=F64), temperature=torch.tensor(1.0, dtype=F64),
                radius=2)
    args.update(overrides)
    return args


def _jbu_args(**overrides):
    args = dict(source_padded=torch.randn(2, 4, 9, 10, dtype=F64),
                keys=torch.randn(2, 3, 5, 6, dtype=F64), temperature=torch.tensor(1.0, dtype=F64),
                sigma=torch.tensor(1.0, dtype=F64), radius=2)
    args.update(overrides)
    return args


CONV_CASES = [
    ('rank input', dict(input=torch.randn(3, 7, 8, dtype=F64)), r'input must be 4-D'),
    ('rank weights', dict(weights=torch.randn(2, 9, 5, dtype=F64)), r'weights must be 4-D'),
    ('taps not square', dict(weights=torch.randn(2, 8, 5, 6, dtype=F64)), r'weights must have T = \(2r\+1\)\^2'),
    ('taps even square', dict(weights=torch.randn(2, 4, 5, 6, dtype=F64)), r'weights must have T = \(2r\+1\)\^2'),
    ('batch', dict(weights=torch.randn(3, 9, 5, 6, dtype=F64)), r'batch size mismatch'),
    ('size', dict(weights=torch.randn(2, 9, 5, 5, dtype=F64)), r'input spatial size'),
    ('radius', dict(weights=torch.randn(2, 25, 5, 6, dtype=F64)), r'input spatial size'),
    ('dtype mix', dict(weights=torch.randn(2, 9, 5, 6)), r'weights has dtype'),
    ('int dtype', dict(input=torch.ones(2, 3, 7, 8, dtype=torch.int64)), r'input .*dtype'),
    ('half on cpu', dict(input=torch.randn(2, 3, 7, 8).half(), weights=torch.randn(2, 9, 5, 6).half()),
     r'input .*dtype'),
    ('empty input', dict(input=torch.randn(2, 0, 7, 8, dtype=F64)), r'input must be non-empty'),
    ('empty weights', dict(weights=torch.randn(2, 9, 5, 0, dtype=F64)),
     r'weights must be non-empty'),
    ('empty batch', dict(input=torch.randn(0, 3, 7, 8, dtype=F64),
                         weights=torch.randn(0, 9, 5, 6, dtype=F64)), r'input must be non-empty'),
    ('meta device', dict(weights=torch.randn(2, 9, 5, 6, dtype=F64, device='meta')),
     r'weights is on meta'),
]


@pytest.mark.parametrize('name,overrides,match', CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_adaptive_conv_bad_inputs(name, overrides, match):
    with pytest.raises(ValueError, match='adaptive_conv: ' + match):
        adaptive_conv(**_conv_args(**overrides))


def test_adaptive_conv_bad_authors_layout():
    with pytest.raises(ValueError, match=r'adaptive_conv: weights in the \[B,H,W,d,d\] layout'):
        adaptive_conv(torch.randn(2, 3, 7, 8, dtype=F64), torch.randn(2, 5, 6, 3, 2, dtype=F64))


RANGE_CASES = [
    ('rank keys', dict(keys=torch.randn(3, 5, 6, dtype=F64)), r'keys must be 4-D'),
    ('empty keys', dict(keys=torch.randn(2, 0, 5, 6, dtype=F64)), r'keys must be non-empty'),
    ('temperature shape', dict(temperature=torch.ones(2, dtype=F64)), r'temperature .*1-element'),
    ('temperature dtype', dict(temperature=torch.tensor(1.0)), r'temperature has dtype'),
    ('radius too large h', dict(radius=5), r'radius must be smaller'),
    ('radius too large w', dict(keys=torch.randn(2, 3, 9, 3, dtype=F64), radius=3),
     r'radius must be smaller'),
    ('radius zero', dict(radius=0), r'radius must be >= 1'),
    ('temperature device', dict(temperature=torch.tensor(1.0, dtype=F64, device='meta')),
     r'temperature is on meta'),
]


@pytest.mark.parametrize('name,overrides,match', RANGE_CASES, ids=[c[0] for c in RANGE_CASES])
def test_range_kernel_bad_inputs(name, overrides, match):
    with pytest.raises(ValueError, match='range_kernel: ' + match):
        range_kernel(**_range_args(**overrides))


JBU_CASES = [
    ('rank source', dict(source_padded=torch.randn(4, 9, 10, dtype=F64)), r'source_padded must be 4-D'),
    ('batch', dict(source_padded=torch.randn(1, 4, 9, 10, dtype=F64)), r'batch size mismatch'),
    ('size', dict(source_padded=torch.randn(2, 4, 9, 9, dtype=F64)), r'source_padded spatial size'),
    ('sigma shape', dict(sigma=torch.ones(3, dtype=F64)), r'sigma .*1-element'),
    ('sigma dtype', dict(sigma=torch.tensor(1.0)), r'sigma has dtype'),
    ('source dtype', dict(source_padded=torch.randn(2, 4, 9, 10)), r'source_padded has dtype'),
    ('radius', dict(radius=6), r'radius must be smaller'),
]


@pytest.mark.parametrize('name,overrides,match', JBU_CASES, ids=[c[0] for c in JBU_CASES])
def test_jbu_upsample_bad_inputs(name, overrides, match):
    with pytest.raises(ValueError, match='jbu_upsample: ' + match):
        jbu_upsample(**_jbu_args(**overrides))


# The raw ops repeat the checks (TORCH_CHECK_VALUE -> ValueError) for direct callers.
RAW_CASES = [
    ('adaptive_conv', lambda ops: ops.adaptive_conv(torch.randn(2, 3, 7, 8, dtype=F64),
                                                    torch.randn(2, 9, 5, 6, 1, dtype=F64)),
     r'adaptive_conv: weights must be 4-D \[B,T,H,W\]'),
    ('adaptive_conv', lambda ops: ops.adaptive_conv(torch.randn(2, 3, 7, 8, dtype=F64),
                                                    torch.randn(2, 8, 5, 6, dtype=F64)),
     r'adaptive_conv: weights must have T = \(2r\+1\)\^2'),
    ('adaptive_conv', lambda ops: ops.adaptive_conv(torch.randn(2, 3, 7, 8, dtype=F64),
                                                    torch.randn(2, 9, 5, 6)),
     r'adaptive_conv: weights has dtype'),
    ('adaptive_conv', lambda ops: ops.adaptive_conv(torch.randn(2, 3, 7, 8, dtype=F64),
                                                    torch.randn(1, 9, 5, 6, dtype=F64)),
     r'adaptive_conv: batch size mismatch'),
    ('adaptive_conv', lambda ops: ops.adaptive_conv(torch.randn(2, 3, 7, 7, dtype=F64),
                                                    torch.randn(2, 9, 5, 6, dtype=F64)),
     r'adaptive_conv: input spatial size'),
    ('adaptive_conv', lambda ops: ops.adaptive_conv(torch.randn(2, 0, 7, 8, dtype=F64),
                                                    torch.randn(2, 9, 5, 6, dtype=F64)),
     r'adaptive_conv: input must be non-empty'),
    ('adaptive_conv_backward', lambda ops: ops.adaptive_conv_backward(
        torch.randn(2, 3, 5, 5, dtype=F64), torch.randn(2, 3, 7, 8, dtype=F64),
        torch.randn(2, 9, 5, 6, dtype=F64)), r'adaptive_conv_backward: grad_output must have shape'),
    ('range_kernel', lambda ops: ops.range_kernel(torch.randn(2, 3, 5, 6, dtype=F64),
                                                  torch.tensor(1.0, dtype=F64), 5),
     r'range_kernel: radius must be smaller'),
    ('range_kernel', lambda ops: ops.range_kernel(torch.randn(2, 3, 5, 6, dtype=F64),
                                                  torch.ones(2, dtype=F64), 1),
     r'range_kernel: temperature \(tau\) must be a 0-d or 1-element'),
    ('range_kernel', lambda ops: ops.range_kernel(torch.randn(2, 3, 5, 6).half(),
                                                  torch.tensor(1.0).half(), 1),
     r'range_kernel: keys must be float32 or float64'),
    ('range_kernel_backward', lambda ops: ops.range_kernel_backward(
        torch.randn(2, 8, 5, 6, dtype=F64), torch.randn(2, 9, 5, 6, dtype=F64),
        torch.randn(2, 3, 5, 6, dtype=F64), torch.tensor(1.0, dtype=F64), 1),
     r'range_kernel_backward: grad_output must have shape'),
    ('jbu_upsample', lambda ops: ops.jbu_upsample(torch.randn(2, 4, 9, 10, dtype=F64),
                                                  torch.randn(2, 3, 5, 6, dtype=F64),
                                                  torch.tensor(1.0, dtype=F64),
                                                  torch.tensor(1.0), 2),
     r'jbu_upsample: sigma has dtype'),
]


@pytest.mark.parametrize('index', range(len(RAW_CASES)))
def test_raw_ops_bad_inputs(compiled_ops, index):
    _, call, match = RAW_CASES[index]
    with pytest.raises(ValueError, match=match):
        call(compiled_ops)
