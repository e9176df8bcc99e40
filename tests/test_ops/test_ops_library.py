"""torch.library integration of the compiled ops: opcheck and torch.compile."""
import pytest
import torch
from torch import nn

from mmfeatup.ops import adaptive_conv, bicubic_adaptive_conv, jbu_upsample, range_kernel


def _range_args(requires_grad):
    keys = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=requires_grad)
    tau = torch.tensor(0.8, dtype=torch.float64, requires_grad=requires_grad)
    return keys, tau


@pytest.mark.parametrize('requires_grad', [False, True])
def test_opcheck_adaptive_conv(compiled_ops, requires_grad):
    source = torch.randn(2, 3, 7, 8, dtype=torch.float64, requires_grad=requires_grad)
    weights = torch.randn(2, 9, 5, 6, dtype=torch.float64, requires_grad=requires_grad)
    torch.library.opcheck(compiled_ops.adaptive_conv, (source, weights))
    grad = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    torch.library.opcheck(compiled_ops.adaptive_conv_backward,
                          (grad, source.detach(), weights.detach()))


@pytest.mark.parametrize('requires_grad', [False, True])
def test_opcheck_range_kernel(compiled_ops, requires_grad):
    keys, tau = _range_args(requires_grad)
    torch.library.opcheck(compiled_ops.range_kernel, (keys, tau, 2))
    out = compiled_ops.range_kernel(keys.detach(), tau.detach(), 2)
    torch.library.opcheck(compiled_ops.range_kernel_backward,
                          (torch.randn_like(out), out, keys.detach(), tau.detach(), 2))


@pytest.mark.parametrize('requires_grad', [False, True])
def test_opcheck_jbu_upsample(compiled_ops, requires_grad):
    keys, tau = _range_args(requires_grad)
    source = torch.randn(2, 4, 9, 10, dtype=torch.float64, requires_grad=requires_grad)
    sigma = torch.tensor(1.2, dtype=torch.float64, requires_grad=requires_grad)
    torch.library.opcheck(compiled_ops.jbu_upsample, (source, keys, tau, sigma, 2))
    grad = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    torch.library.opcheck(compiled_ops.jbu_upsample_backward,
                          (grad, source.detach(), keys.detach(), tau.detach(), sigma.detach(), 2))


class _TinyJBU(nn.Module):
    """A JBU-like module built from the public ops."""

    def __init__(self, radius: int = 1):
        super().__init__()
        self.radius = radius
        self.proj = nn.Conv2d(3, 4, 1)
        self.range_temp = nn.Parameter(torch.tensor(0.0))
        self.sigma = nn.Parameter(torch.tensor(1.0))

    def forward(self, source, guidance):
        keys = self.proj(guidance)
        tau = self.range_temp.exp()
        padded = nn.functional.pad(source, [self.radius] * 4, mode='reflect')
        kernel = range_kernel(keys, tau, self.radius)
        trained = adaptive_conv(padded, kernel)
        fused = jbu_upsample(padded, keys, tau, self.sigma, self.radius)
        resized = bicubic_adaptive_conv(source[..., ::2, ::2], kernel)
        return trained + fused + resized


def test_torch_compile_without_graph_breaks(compiled_ops):
    torch._dynamo.reset()
    model = _TinyJBU()
    source, guidance = torch.randn(2, 5, 6, 7), torch.randn(2, 3, 6, 7)
    eager = model(source, guidance)
    explanation = torch._dynamo.explain(model)(source, guidance)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)
    out = compiled(source, guidance)
    torch.testing.assert_close(out, eager)
    out.square().sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    model.zero_grad()
    eager.square().sum().backward()
    for param, compiled_grad in zip(model.parameters(), grads):
        torch.testing.assert_close(param.grad, compiled_grad)
