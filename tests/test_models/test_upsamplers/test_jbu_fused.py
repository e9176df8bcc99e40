"""JBUFused: JBUStack without the stage fixups, on the fused op."""
import torch

from mmfeatup.models.upsamplers import JBUFused, JBUStack
from mmfeatup.registry import UPSAMPLERS, build_upsampler


def trained_like_stack(feat_dim: int, seed: int) -> JBUStack:
    """A JBUStack with random (non-default) weights everywhere, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    stack = JBUStack(feat_dim)
    with torch.no_grad():
        for name, param in stack.named_parameters():
            if name.endswith('sigma_spatial'):
                param.fill_(0.6 + torch.rand((), generator=gen).item())
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return stack.eval()


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_registered_and_state_dict_layout():
    assert UPSAMPLERS.get('JBUFused') is JBUFused
    fused = build_upsampler(dict(type='JBUFused'), in_channels=5)
    stack_keys = set(JBUStack(5).state_dict())
    fused_keys = set(fused.state_dict())
    assert fused_keys < stack_keys
    assert stack_keys - fused_keys == {
        f'up{i}.fixup_proj.{j}.{p}' for i in range(1, 5) for j in (0, 3)
        for p in ('weight', 'bias')}
    assert not any(stage.has_fixup for stage in (fused.up1, fused.up2, fused.up3, fused.up4))


def test_exact_when_stage_fixups_vanish():
    stack = trained_like_stack(6, seed=0)
    with torch.no_grad():
        for i in range(1, 5):
            last = getattr(stack, f'up{i}').fixup_proj[3]
            last.weight.zero_()
            last.bias.zero_()
    fused = JBUFused.from_jbu_stack(stack)
    assert not fused.training
    source = torch.randn(2, 6, 4, 5)
    image = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        expected = stack(source, image)
        out = fused(source, image)
        # also for a non-power-of-2 ratio and non-square output
        expected_odd = stack(source, image, output_size=(50, 77))
        out_odd = fused(source, image, output_size=(50, 77))
    assert out.shape == (2, 6, 64, 80)
    assert rel_err(out, expected) < 1e-5
    assert rel_err(out_odd, expected_odd) < 1e-5


def test_approximation_error_is_the_dropped_fixup():
    """Honest measurement: with non-zero fixups the fused model differs, by exactly
    what zeroing the fixups' contribution changes."""
    stack = trained_like_stack(6, seed=1)
    fused = JBUFused.from_jbu_stack(stack)
    source = torch.randn(1, 6, 4, 4)
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        full = stack(source, image)
        approx = fused(source, image)
        for i in range(1, 5):
            last = getattr(stack, f'up{i}').fixup_proj[3]
            last.weight.zero_()
            last.bias.zero_()
        no_fixup = stack(source, image)
    error = rel_err(approx, full)
    print(f'JBUFused vs JBUStack (random non-zero fixups): relative L2 error {error:.4f}')
    assert error > 1e-3  # it is an approximation, not the same model
    assert rel_err(approx, no_fixup) < 1e-5


def test_from_jbu_stack_copies_weights_mode_and_dtype():
    stack = trained_like_stack(3, seed=2).double().train()
    fused = JBUFused.from_jbu_stack(stack)
    assert fused.training
    assert fused.up2.range_temp.dtype == torch.float64
    assert torch.equal(fused.up2.range_proj[3].weight, stack.up2.range_proj[3].weight)
    assert torch.equal(fused.fixup_proj[1].bias, stack.fixup_proj[1].bias)
    assert fused.scale_factor == stack.scale_factor and fused.num_stages == stack.num_stages
    # independent copies
    with torch.no_grad():
        fused.up1.sigma_spatial.add_(1.0)
    assert not torch.equal(fused.up1.sigma_spatial, stack.up1.sigma_spatial)


def test_fused_gradients():
    fused = JBUFused.from_jbu_stack(trained_like_stack(3, seed=3))
    source = torch.randn(1, 3, 2, 3)
    out = fused(source, torch.rand(1, 3, 32, 48))  # x16: all four stages run
    out.square().mean().backward()
    for name, param in fused.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
