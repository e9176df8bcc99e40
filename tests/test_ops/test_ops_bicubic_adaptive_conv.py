"""mmfeatup::bicubic_adaptive_conv: the JBU stage's resize + filter without the resized map.

Checked against the plain-PyTorch reference (``F.interpolate`` bicubic + reflect pad +
``adaptive_conv_reference``) in float64 on odd shapes, gradcheck/gradgradcheck, opcheck,
named errors, layouts, and the JBU stage's use of it.
"""
import pytest
import torch

from mmfeatup.models.upsamplers.jbu_stage import JBULearnedRange
from mmfeatup.ops import adaptive_conv, bicubic_adaptive_conv, bicubic_adaptive_conv_reference
from mmfeatup.ops.reference import adaptive_conv_reference

F64 = torch.float64

# (batch, channels, source h, w, output H, W, radius): x2 and odd ratios, non-square, C = 1,
# radius 0..5, output smaller than the source, equal sizes, a 1-pixel-wide source.
# radius min(H, W) - 1, 1-pixel-wide outputs (r = 0; downscaling, and upscaling in the last
# case), C = 130 (more than one of the CPU backward's 64-channel gather blocks, the 8-vector
# block and a remainder). Downscaling axes run the two-step form.
CASES = [(2, 3, 5, 7, 10, 14, 1), (1, 1, 4, 4, 8, 8, 2), (2, 5, 7, 6, 13, 17, 3),
         (3, 2, 3, 5, 9, 4, 1), (1, 3, 6, 6, 6, 6, 2), (1, 2, 9, 8, 5, 6, 1),
         (1, 4, 2, 3, 11, 12, 5), (2, 9, 5, 5, 10, 10, 0), (1, 17, 1, 6, 7, 12, 4),
         (2, 40, 14, 14, 28, 28, 3), (1, 3, 3, 3, 4, 9, 3), (2, 2, 3, 2, 1, 5, 0),
         (1, 2, 2, 4, 6, 1, 0), (1, 5, 4, 9, 7, 5, 2), (2, 130, 5, 6, 10, 12, 2),
         (1, 3, 4, 1, 8, 1, 0)]


def _inputs(batch, channels, h, w, height, width, radius, dtype=F64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    source = torch.randn(batch, channels, h, w, generator=gen, dtype=dtype)
    weights = torch.randn(batch, (2 * radius + 1)**2, height, width, generator=gen, dtype=dtype)
    return source, weights


@pytest.mark.parametrize('case', CASES, ids=str)
def test_matches_reference_float64(compiled_ops, case):
    source, weights = _inputs(*case)
    out = compiled_ops.bicubic_adaptive_conv(source, weights)
    torch.testing.assert_close(out, bicubic_adaptive_conv_reference(source, weights), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize('case', CASES, ids=str)
def test_backward_matches_reference_float64(compiled_ops, case):
    source, weights = _inputs(*case)
    grad = torch.randn(case[0], case[1], case[4], case[5], dtype=F64)
    ours = torch.autograd.grad(
        compiled_ops.bicubic_adaptive_conv(source.requires_grad_(), weights.requires_grad_()),
        (source, weights), grad)
    ref = torch.autograd.grad(bicubic_adaptive_conv_reference(source, weights), (source, weights),
                              grad)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('case', [(2, 384, 14, 14, 28, 28, 3), (1, 8, 30, 20, 9, 7, 2)],
                         ids=['x2', 'downscale'])
def test_float32_close_to_float64(compiled_ops, case):
    source, weights = _inputs(*case)
    out = compiled_ops.bicubic_adaptive_conv(source.float(), weights.float())
    torch.testing.assert_close(out.double(), bicubic_adaptive_conv_reference(source, weights),
                               rtol=1e-4, atol=1e-4)


def test_backward_float32_and_gradient_layouts(compiled_ops):
    """The CPU backward in float32 at C = 384 against float64, and with the output gradient
    expanded (``out.sum()``), channels-last or transposed: the same values."""
    source, weights = _inputs(2, 384, 7, 6, 14, 12, 3)
    grad = torch.randn(2, 384, 14, 12, dtype=F64)
    exact = compiled_ops.bicubic_adaptive_conv_backward(grad, source, weights)
    single = compiled_ops.bicubic_adaptive_conv_backward(grad.float(), source.float(),
                                                         weights.float())
    for a, b in zip(single, exact):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4)
    ones = torch.ones((), dtype=F64).expand_as(grad)
    wide = torch.zeros(2, 384, 14, 24, dtype=F64)
    wide[..., ::2] = grad
    for layout, dense in [(ones, torch.ones_like(grad)),
                          (grad.contiguous(memory_format=torch.channels_last), grad),
                          (grad.transpose(2, 3).contiguous().transpose(2, 3), grad),
                          (wide[..., ::2], grad)]:
        want = compiled_ops.bicubic_adaptive_conv_backward(dense, source, weights)
        got = compiled_ops.bicubic_adaptive_conv_backward(layout, source, weights)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_source_is_never_hidden(compiled_ops, value):
    """Every output the two-step form makes non-finite is non-finite here too (the CPU
    kernel's window may reach a few more, see the kernel's header)."""
    source, weights = _inputs(1, 2, 9, 8, 18, 16, 3)
    source[0, 1, 4, 3] = value
    ours = ~torch.isfinite(compiled_ops.bicubic_adaptive_conv(source, weights))
    reference = ~torch.isfinite(bicubic_adaptive_conv_reference(source, weights))
    assert reference.any()
    assert (ours | ~reference).all()
    assert not ours[0, 0].any()  # other channels untouched


@pytest.mark.parametrize('case', [(2, 1, 3, 4, 5, 7, 1), (1, 2, 4, 3, 6, 5, 2)], ids=str)
def test_gradcheck_and_gradgradcheck(compiled_ops, case):
    source, weights = _inputs(*case)
    inputs = (source.requires_grad_(), weights.requires_grad_())
    assert torch.autograd.gradcheck(compiled_ops.bicubic_adaptive_conv, inputs)
    assert torch.autograd.gradgradcheck(compiled_ops.bicubic_adaptive_conv, inputs)


def test_backward_op_called_directly_is_differentiable(compiled_ops):
    source, weights = _inputs(1, 2, 3, 4, 6, 7, 1)
    grad = torch.randn(1, 2, 6, 7, dtype=F64, requires_grad=True)
    inputs = (grad, source.requires_grad_(), weights.requires_grad_())
    assert torch.autograd.gradcheck(compiled_ops.bicubic_adaptive_conv_backward, inputs)


@pytest.mark.parametrize('requires_grad', [False, True])
def test_opcheck(compiled_ops, requires_grad):
    source, weights = _inputs(2, 3, 4, 5, 7, 9, 1)
    source.requires_grad_(requires_grad)
    weights.requires_grad_(requires_grad)
    torch.library.opcheck(compiled_ops.bicubic_adaptive_conv, (source, weights))
    grad = torch.randn(2, 3, 7, 9, dtype=F64)
    torch.library.opcheck(compiled_ops.bicubic_adaptive_conv_backward,
                          (grad, source.detach(), weights.detach()))


def test_layouts_and_cpu_output_channels_last(compiled_ops):
    source, weights = _inputs(2, 6, 5, 4, 9, 8, 2)
    expected = compiled_ops.bicubic_adaptive_conv(source, weights)
    assert expected.is_contiguous(memory_format=torch.channels_last)  # as the fake states
    wide = torch.zeros(2, 25, 9, 16, dtype=F64)
    wide[..., ::2] = weights
    for src, w in [(source.contiguous(memory_format=torch.channels_last), weights),
                   (source.transpose(2, 3).contiguous().transpose(2, 3), wide[..., ::2]),
                   (source, weights.transpose(2, 3).contiguous().transpose(2, 3))]:
        assert not (src.is_contiguous() and w.is_contiguous())
        torch.testing.assert_close(compiled_ops.bicubic_adaptive_conv(src, w), expected,
                                   rtol=0, atol=0)


def test_equals_the_two_step_form_in_float32(compiled_ops):
    """What the JBU stage ran before: the banded resize + adaptive_conv."""
    from mmfeatup.models.layers.bicubic_resize import bicubic_resize
    source, weights = _inputs(1, 64, 28, 28, 56, 56, 3, dtype=torch.float32)
    two_step = adaptive_conv(bicubic_resize(source, (56, 56), pad=3), weights)
    torch.testing.assert_close(bicubic_adaptive_conv(source, weights), two_step, rtol=1e-5,
                               atol=1e-5)


BAD = [
    ('source rank', dict(source=torch.randn(2, 3, 4, dtype=F64)), r'source must be 4-D'),
    ('weights rank', dict(weights=torch.randn(2, 9, 5, dtype=F64)), r'weights must be 4-D'),
    ('empty source', dict(source=torch.randn(2, 0, 4, 5, dtype=F64)), r'source must be non-empty'),
    ('int dtype', dict(source=torch.ones(2, 3, 4, 5, dtype=torch.int64)),
     r'source (must be float32 or float64|has unsupported dtype)'),
    ('half on cpu', dict(source=torch.randn(2, 3, 4, 5).half(),
                         weights=torch.randn(2, 9, 7, 8).half()), r'float16'),
    ('dtype mix', dict(weights=torch.randn(2, 9, 7, 8)), r'weights .*dtype'),
    ('device mix', dict(weights=torch.randn(2, 9, 7, 8, dtype=F64, device='meta')),
     r'weights is on meta'),
    ('taps', dict(weights=torch.randn(2, 8, 7, 8, dtype=F64)), r'T = \(2r\+1\)\^2'),
    ('batch', dict(weights=torch.randn(3, 9, 7, 8, dtype=F64)), r'batch size mismatch'),
    ('radius vs height', dict(weights=torch.randn(2, 25, 2, 8, dtype=F64)), r'radius r=2'),
    ('radius vs width', dict(weights=torch.randn(2, 9, 7, 1, dtype=F64)), r'radius r=1'),
]


# A meta tensor sends a torch.ops call to the fake kernel (the dispatcher's choice, as for
# every op), so the device mix is checked through the Python entry only.
ENTRIES = [(entry, *bad) for entry in ('python', 'torch.ops') for bad in BAD
           if not (entry == 'torch.ops' and bad[0] == 'device mix')]


@pytest.mark.parametrize('entry,name,override,message', ENTRIES,
                         ids=[f'{e[0]}-{e[1]}' for e in ENTRIES])
def test_bad_input_names_the_argument(compiled_ops, entry, name, override, message):
    args = dict(source=torch.randn(2, 3, 4, 5, dtype=F64),
                weights=torch.randn(2, 9, 7, 8, dtype=F64))
    args.update(override)
    call = (bicubic_adaptive_conv
            if entry == 'python' else compiled_ops.bicubic_adaptive_conv)
    with pytest.raises(ValueError, match=message):
        call(args['source'], args['weights'])


def test_backward_op_checks_grad_shape(compiled_ops):
    source, weights = _inputs(1, 2, 3, 4, 6, 7, 1)
    with pytest.raises(ValueError, match='grad_output must have shape'):
        compiled_ops.bicubic_adaptive_conv_backward(torch.randn(1, 2, 6, 6, dtype=F64), source,
                                                    weights)


def test_jbu_stage_runs_the_fused_op_forward_and_backward_on_cpu(compiled_ops):
    """Training and inference on CPU: the fused op and its fused backward, never the resized
    map; values and gradients equal the two-step form's (float64)."""
    torch.manual_seed(0)
    stage = JBULearnedRange().double().eval()  # eval: no dropout; autograd records all the same
    source = torch.randn(2, 5, 6, 7, dtype=F64, requires_grad=True)
    guidance = torch.rand(2, 3, 12, 14, dtype=F64, requires_grad=True)
    grad = torch.randn(2, 5, 12, 14, dtype=F64)
    with torch.profiler.profile() as prof:
        fused = stage(source, guidance)
        fused.backward(grad)
    names = {event.name for event in prof.events()}
    assert {'mmfeatup::bicubic_adaptive_conv',
            'mmfeatup::bicubic_adaptive_conv_backward'} <= names
    assert not names & {'mmfeatup::adaptive_conv', 'mmfeatup::adaptive_conv_backward',
                        'aten::upsample_bicubic2d', 'aten::reflection_pad2d'}, names
    fused_grads = [t.grad.clone() for t in (source, guidance, *stage.parameters())]
    for t in (source, guidance, *stage.parameters()):
        t.grad = None
    two_step = adaptive_conv_reference(
        torch.nn.functional.pad(torch.nn.functional.interpolate(
            source, size=(12, 14), mode='bicubic', align_corners=False), [3] * 4, mode='reflect'),
        stage.kernel(guidance))
    two_step.backward(grad)
    torch.testing.assert_close(fused, two_step, rtol=1e-12, atol=1e-12)
    for got, want in zip(fused_grads, (source.grad, guidance.grad,
                                       *(p.grad for p in stage.parameters()))):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    with torch.no_grad():  # inference: the same op
        torch.testing.assert_close(stage(source, guidance), two_step.detach(), rtol=1e-12,
                                   atol=1e-12)
