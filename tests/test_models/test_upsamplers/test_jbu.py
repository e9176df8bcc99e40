"""JBUStack: the authors' parameter layout, the math of docs/design.md, any output size."""
import math
from typing import Dict, List, Tuple

import pytest
import torch
import torch.nn.functional as F

from mmfeatup.models.upsamplers import JBUStack, plan_stage_sizes
from mmfeatup.registry import UPSAMPLERS, build_upsampler

RADIUS = 3
TAPS = (2 * RADIUS + 1)**2
KEY_DIM = 32


def authors_state_dict(feat_dim: int, seed: int = 0, stages: int = 4,
                       dtype=torch.float32) -> Dict[str, torch.Tensor]:
    """Random weights under the key names of the authors' featup/upsamplers.py JBUStack."""
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=0.3):
        return (torch.randn(*shape, generator=gen) * scale).to(dtype)

    state = {}
    for i in range(1, stages + 1):
        state[f'up{i}.range_temp'] = rnd(()) + 0.5  # tau != 1
        state[f'up{i}.sigma_spatial'] = (0.6 + torch.rand((), generator=gen)).to(dtype)
        state[f'up{i}.range_proj.0.weight'] = rnd(KEY_DIM, 3, 1, 1, scale=1.0)
        state[f'up{i}.range_proj.0.bias'] = rnd(KEY_DIM)
        state[f'up{i}.range_proj.3.weight'] = rnd(KEY_DIM, KEY_DIM, 1, 1)
        state[f'up{i}.range_proj.3.bias'] = rnd(KEY_DIM)
        state[f'up{i}.fixup_proj.0.weight'] = rnd(TAPS, TAPS + 3, 1, 1)
        state[f'up{i}.fixup_proj.0.bias'] = rnd(TAPS)
        state[f'up{i}.fixup_proj.3.weight'] = rnd(TAPS, TAPS, 1, 1)
        state[f'up{i}.fixup_proj.3.bias'] = rnd(TAPS)
    state['fixup_proj.1.weight'] = rnd(feat_dim, feat_dim, 1, 1)
    state['fixup_proj.1.bias'] = rnd(feat_dim)
    return state


# ---- an independent plain-PyTorch implementation of docs/design.md section 1 (eval mode) ----

def _unfold_taps(x: torch.Tensor, radius: int) -> torch.Tensor:
    """[B, C, H, W] -> reflect-padded neighbourhoods [B, C, T, H, W], taps row-major."""
    b, c, h, w = x.shape
    d = 2 * radius + 1
    cols = F.unfold(F.pad(x, [radius] * 4, mode='reflect'), kernel_size=d)
    return cols.reshape(b, c, d * d, h, w)


def spec_stage(sd, p: str, source: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    size = guide.shape[-2:]
    keys = F.conv2d(F.gelu(F.conv2d(guide, sd[p + 'range_proj.0.weight'],
                                    sd[p + 'range_proj.0.bias'])),
                    sd[p + 'range_proj.3.weight'], sd[p + 'range_proj.3.bias'])
    tau = torch.clamp(torch.exp(sd[p + 'range_temp']), 1e-4, 1e4)
    logits = tau * (_unfold_taps(keys, RADIUS) * keys.unsqueeze(2)).sum(1)
    range_k = torch.softmax(logits, dim=1)
    d = 2 * RADIUS + 1
    offsets = [(i / RADIUS, j / RADIUS) for i in range(-RADIUS, RADIUS + 1)
               for j in range(-RADIUS, RADIUS + 1)]  # linspace(-1, 1, d) grid, row-major
    sigma = sd[p + 'sigma_spatial']
    spatial = torch.stack([torch.exp(-(y * y + x * x) / (2 * sigma * sigma)) for y, x in offsets])
    assert spatial.numel() == d * d
    kernel = range_k * spatial.reshape(1, -1, 1, 1)
    kernel = kernel / kernel.sum(1, keepdim=True).clamp_min(1e-7)
    hidden = F.gelu(F.conv2d(torch.cat([kernel, guide], 1), sd[p + 'fixup_proj.0.weight'],
                             sd[p + 'fixup_proj.0.bias']))
    kernel = kernel + 0.1 * F.conv2d(hidden, sd[p + 'fixup_proj.3.weight'],
                                     sd[p + 'fixup_proj.3.bias'])
    up = F.interpolate(source, size=size, mode='bicubic', align_corners=False)
    return (_unfold_taps(up, RADIUS) * kernel.unsqueeze(1)).sum(2)


def spec_stack(sd, source, image, sizes: List[Tuple[int, int]]) -> torch.Tensor:
    x = source
    for index, size in enumerate(sizes):
        stage = min(index, 3) + 1
        x = spec_stage(sd, f'up{stage}.', x, F.adaptive_avg_pool2d(image, size))
    return x + 0.1 * F.conv2d(x, sd['fixup_proj.1.weight'], sd['fixup_proj.1.bias'])


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


# ---- tests ----

def test_authors_key_names_and_shapes():
    model = JBUStack(16)
    expected = authors_state_dict(16)
    actual = model.state_dict()
    assert set(actual) == set(expected)
    for key, value in expected.items():
        assert actual[key].shape == value.shape, key
    model.load_state_dict(expected)  # strict, unchanged names
    assert torch.equal(model.up3.range_proj[3].weight, expected['up3.range_proj.3.weight'])
    # defaults of a fresh stage: range_temp 0 (tau 1), sigma 1
    fresh = JBUStack(4)
    assert fresh.up1.range_temp.item() == 0.0 and fresh.up1.sigma_spatial.item() == 1.0


def test_x16_matches_spec_reference_eval():
    torch.manual_seed(0)
    feat_dim = 6
    sd = authors_state_dict(feat_dim, seed=1)
    model = JBUStack(feat_dim)
    model.load_state_dict(sd)
    model.eval()
    source = torch.randn(2, feat_dim, 4, 4)
    image = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = model(source, image)
        ref = spec_stack(sd, source, image, [(8, 8), (16, 16), (32, 32), (64, 64)])
    assert out.shape == (2, feat_dim, 64, 64)
    assert rel_err(out, ref) < 1e-5
    # and elementwise in float64, where rounding cannot hide a difference
    sd64 = {k: v.double() for k, v in sd.items()}
    model64 = JBUStack(feat_dim).double().eval()
    model64.load_state_dict(sd64)
    with torch.no_grad():
        out64 = model64(source.double(), image.double())
        ref64 = spec_stack(sd64, source.double(), image.double(),
                           [(8, 8), (16, 16), (32, 32), (64, 64)])
    torch.testing.assert_close(out64, ref64, rtol=1e-5, atol=1e-9)
    # the filter does something beyond the bicubic pre-upsampling
    assert rel_err(out, F.interpolate(source, (64, 64), mode='bicubic')) > 1e-3


def test_non_square_non_power_of_two_matches_reference():
    feat_dim = 3
    sd = authors_state_dict(feat_dim, seed=2, dtype=torch.float64)
    model = JBUStack(feat_dim, scale_factor=None).double().eval()
    model.load_state_dict(sd)
    source = torch.randn(1, feat_dim, 5, 7, dtype=torch.float64)
    image = torch.rand(1, 3, 75, 90, dtype=torch.float64)
    # 5x7 -> 75x90: x2 stages 10x14, 20x28, 40x56 (80x112 overshoots), final 75x90
    sizes = plan_stage_sizes((5, 7), (75, 90))
    assert sizes == [(10, 14), (20, 28), (40, 56), (75, 90)]
    with torch.no_grad():
        out = model(source, image)  # scale_factor=None: output at the image size
        ref = spec_stack(sd, source, image, sizes)
    assert out.shape == (1, feat_dim, 75, 90)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize('source_size,output_size,stages', [
    ((16, 16), (224, 224), 4),    # x14 (patch-14 ViT): 32, 64, 128, then 224
    ((14, 14), (112, 112), 3),    # x8
    ((7, 7), (224, 224), 5),      # x32: five stages, the fifth reuses up4
    ((6, 6), (100, 100), 5),      # x16.7: 12, 24, 48, 96, then 100
    ((10, 12), (17, 20), 1),      # ratio < 2: one stage
    ((8, 8), (128, 40), 3),       # x16 on one axis, x5 on the other
])
def test_stage_plan(source_size, output_size, stages):
    sizes = plan_stage_sizes(source_size, output_size)
    assert len(sizes) == stages and sizes[-1] == output_size
    previous = source_size
    for index, size in enumerate(sizes):
        for axis in range(2):
            assert previous[axis] <= size[axis] <= output_size[axis]
            if index < len(sizes) - 1:
                assert size[axis] == 2 * previous[axis]
        previous = size


@pytest.mark.parametrize('source_size,output_size', [
    ((4, 6), (56, 84)),     # x14 non-square
    ((5, 5), (40, 40)),     # x8
    ((3, 4), (96, 128)),    # x32
    ((6, 6), (100, 100)),   # x16.7
    ((9, 7), (13, 11)),     # ratio < 2
])
def test_any_output_size(source_size, output_size):
    model = JBUStack(5, num_stages=5).eval()  # x32 and x16.7 need a fifth stage
    source = torch.randn(2, 5, *source_size)
    image = torch.rand(2, 3, 160, 144)
    with torch.no_grad():
        out = model(source, image, output_size=output_size)
    assert out.shape == (2, 5, *output_size)
    assert torch.isfinite(out).all()


def test_x32_reuses_last_stage_only_when_asked_and_num_stages():
    """Four trained stages never run a fifth time silently: x32 is an error naming the fix,
    unless reuse_last_stage=True, which runs up4 again (checked against the definition)."""
    sd = authors_state_dict(3, seed=3, dtype=torch.float64)
    source = torch.randn(1, 3, 3, 3, dtype=torch.float64)
    image = torch.rand(1, 3, 96, 96, dtype=torch.float64)
    strict = JBUStack(3).double().eval()
    strict.load_state_dict(sd)
    with pytest.raises(ValueError, match='needs 5 stages .* num_stages=4; build it with '
                                         'num_stages=5'):
        strict(source, image, output_size=96)
    model = JBUStack(3, reuse_last_stage=True).double().eval()
    model.load_state_dict(sd)
    assert model.stage(4) is model.up4 and model.stage(0) is model.up1
    with torch.no_grad():
        out = model(source, image, output_size=96)
    ref = spec_stack(sd, source, image, [(6, 6), (12, 12), (24, 24), (48, 48), (96, 96)])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-9)
    five = JBUStack(3, num_stages=5)
    assert hasattr(five, 'up5') and five.stage(4) is five.up5


def test_default_scale_factor_and_build():
    model = build_upsampler(dict(type='JBUStack'), in_channels=7, guidance_channels=3)
    assert isinstance(model, JBUStack) and model.in_channels == 7
    assert UPSAMPLERS.get('JBUStack') is JBUStack
    assert model.scale_factor == 16
    assert JBUStack(in_channels=4).in_channels == 4
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 7, 4, 5), torch.rand(1, 3, 64, 80))
    assert out.shape == (1, 7, 64, 80)
    with pytest.raises(ValueError, match='disagree'):
        JBUStack(4, in_channels=5)
    with pytest.raises(ValueError, match='feat_dim'):
        JBUStack()
    with pytest.raises(ValueError, match='num_stages'):
        JBUStack(4, num_stages=0)


def test_bad_inputs():
    model = JBUStack(4).eval()
    with pytest.raises(ValueError, match='channels'):
        model(torch.randn(1, 5, 8, 8), torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match='guidance has 1 channels'):
        model(torch.randn(1, 4, 8, 8), torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match='smaller than the feature map'):
        model(torch.randn(1, 4, 8, 8), torch.rand(1, 3, 6, 64))
    with pytest.raises(ValueError, match='guidance is required'):
        model(torch.randn(1, 4, 8, 8))
    with pytest.raises(ValueError, match='only upsamples'):
        model(torch.randn(1, 4, 8, 8), torch.rand(1, 3, 64, 64), output_size=(4, 64))
    with pytest.raises(ValueError, match='radius'):
        model(torch.randn(1, 4, 1, 1), torch.rand(1, 3, 16, 16))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = JBUStack(4)
    model.load_state_dict(authors_state_dict(4, seed=4))
    model.eval()  # no dropout: every path carries gradient
    source = torch.randn(1, 4, 3, 4, requires_grad=True)
    image = torch.rand(1, 3, 40, 50)
    out = model(source, image, output_size=(40, 50))  # x2, x2, x2, then 24x32 -> 40x50
    (out * torch.randn_like(out)).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert source.grad is not None and source.grad.abs().sum() > 0


def test_train_mode_dropout_eval_deterministic():
    model = JBUStack(8)
    model.load_state_dict(authors_state_dict(8, seed=5))
    source = torch.randn(1, 8, 4, 4)
    image = torch.rand(1, 3, 64, 64)
    model.train()
    torch.manual_seed(1)
    train_a = model(source, image)
    torch.manual_seed(2)
    train_b = model(source, image)
    assert rel_err(train_a, train_b) > 1e-4  # Dropout2d active in training
    model.eval()
    with torch.no_grad():
        eval_a = model(source, image)
        eval_b = model(source, image)
    assert torch.equal(eval_a, eval_b)
    assert rel_err(train_a.detach(), eval_a) > 1e-4


def test_kernel_rows_before_fixup_sum_to_one():
    model = JBUStack(2).eval()
    model.load_state_dict(authors_state_dict(2, seed=6))
    guide = torch.rand(2, 3, 9, 11)
    with torch.no_grad():
        kernel = model.up2.normalized_kernel(guide)
        full = model.up2.kernel(guide)
    assert kernel.shape == (2, TAPS, 9, 11)
    torch.testing.assert_close(kernel.sum(1), torch.ones(2, 9, 11))
    assert (full.sum(1) - 1).abs().max() > 1e-4  # the fixup is not renormalised
    assert not math.isclose(model.up2.temperature().item(), 1.0)


@pytest.mark.parametrize('two_step', [False, True], ids=['fused-cpu-path', 'two-step-cuda-path'])
def test_jbustack_compiles_without_graph_breaks(two_step):
    """The whole stack (compiled ops, in-place bias; the banded bicubic on the two-step path
    that CUDA takes) traces as one graph, with and without autograd."""
    from unittest import mock

    from mmfeatup.models.upsamplers.jbu_stage import JBULearnedRange
    torch.manual_seed(0)
    up = JBUStack(8).eval()
    source, image = torch.randn(1, 8, 6, 5), torch.randn(1, 3, 48, 40)
    path = mock.patch.object(JBULearnedRange, '_two_step', lambda *args: two_step)
    with path:
        eager = up(source, image)
        for grad_mode in (torch.enable_grad(), torch.no_grad()):
            with grad_mode:
                torch._dynamo.reset()
                explanation = torch._dynamo.explain(up)(source, image)
                assert explanation.graph_break_count == 0, explanation.break_reasons
                compiled = torch.compile(up, backend='aot_eager', fullgraph=True)
                torch.testing.assert_close(compiled(source, image), eager, rtol=1e-5,
                                           atol=1e-5)
