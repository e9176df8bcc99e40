"""Contract tests for EVERY registered upsampler.

They enumerate UPSAMPLERS, so later additions are covered.
"""
import importlib
from typing import Optional

import pytest
import torch
import torch.nn.functional as F

import mmfeatup.models  # noqa: F401  (registers everything)
from mmfeatup.models.layers.windows import (gather_windows, nearest_source_index, reassemble,
                                           window_similarity)
from mmfeatup.registry import UPSAMPLERS, build_upsampler

NAMES = sorted(UPSAMPLERS.module_dict)
CHANNELS = 8
SOURCE = (5, 7)  # odd, non-square


def build(name: str, scale: int = 2, guidance_channels: int = 3, **kwargs):
    torch.manual_seed(0)
    return build_upsampler(dict(type=name, scale_factor=scale, **kwargs), in_channels=CHANNELS,
                           guidance_channels=guidance_channels)


def inputs(size, guidance_channels: int = 3, guidance_size: Optional[tuple] = None,
           dtype=torch.float32, source_size: tuple = SOURCE):
    gen = torch.Generator().manual_seed(1)
    source = torch.randn(2, CHANNELS, *source_size, generator=gen, dtype=dtype)
    guidance = torch.rand(2, guidance_channels, *(guidance_size or size), generator=gen,
                          dtype=dtype)
    return source, guidance


def test_registry_has_the_zoo():
    expected = {'Nearest', 'Bilinear', 'Bicubic', 'ResizeConv', 'PixelShuffle', 'Deconv', 'CARAFE',
                'SAPA', 'FADE', 'DySample', 'IFA'}
    assert expected <= set(NAMES)


def times(factor: int) -> tuple:
    return (SOURCE[0] * factor, SOURCE[1] * factor)


def setup(name: str, scale: int = 2, size: Optional[tuple] = None, guidance_channels: int = 3):
    """``name`` built at design ratio ``scale`` (eval), the output size (default x``scale``)
    and seeded inputs for it."""
    size = times(scale) if size is None else size
    model = build(name, scale=scale, guidance_channels=guidance_channels).eval()
    return model, size, *inputs(size, guidance_channels=guidance_channels)


def run(name: str, scale: int, size: tuple):
    """Upsample the seeded inputs to ``size`` with ``name`` at design ratio ``scale``: the
    output, or the ValueError it raised."""
    model, size, source, guidance = setup(name, scale, size)
    try:
        with torch.no_grad():
            return model(source, guidance, output_size=size)
    except ValueError as error:
        return error


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('scale,size', [(2, times(2)), (4, times(4)), (2, (13, 19)), (2, times(3))],
                         ids=['design-x2', 'design-x4', 'non-integer', 'other-integer'])
def test_any_output_size_or_a_clear_error(name, scale, size):
    """Odd non-square sources; at the design ratio every module works, elsewhere only the
    any-size ones, while fixed-ratio modules name their ratio."""
    out = run(name, scale, size)
    at_design_ratio = size == times(scale)
    if UPSAMPLERS.get(name).fixed_ratio and not at_design_ratio:
        assert isinstance(out, ValueError) and f'built for x{scale}' in str(out)
        return
    assert not isinstance(out, Exception), out
    assert out.shape == (2, CHANNELS, *size)
    assert torch.isfinite(out).all()


#: the attention upsamplers, small, for the guidance-size cases below
ATTENTION = dict(JAFAR=dict(qk_dim=16), AnyUp=dict(qk_dim=16), LoftUp=dict(n_freqs=4))


@pytest.mark.parametrize('name', sorted(ATTENTION))
@pytest.mark.parametrize('source_size,size,guidance_size', [
    ((3, 5), (7, 11), (7, 11)),      # non-integer ratio, odd
    ((3, 5), (7, 11), (20, 31)),     # guidance larger than the output
    ((3, 5), (12, 20), (4, 6)),      # guidance smaller than the output
    ((1, 4), (5, 9), (5, 9)),        # a 1-pixel axis (3x3 reflect convs fall back)
])
def test_attention_upsamplers_take_any_guidance_size(name, source_size, size, guidance_size):
    model = build_upsampler(dict(type=name, **ATTENTION[name]), in_channels=8).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 8, *source_size), torch.rand(2, 3, *guidance_size),
                    output_size=size)
    assert out.shape == (2, 8, *size) and torch.isfinite(out).all()


@pytest.mark.parametrize('name', NAMES)
def test_gradients_reach_inputs_and_every_parameter(name):
    # x16 so that multi-stage modules (JBUStack's up1..up4, PixelShuffle) use every stage
    model = build(name, scale=16).train()
    small = (3, 5)
    size = (small[0] * 16, small[1] * 16)
    source, guidance = inputs(size, source_size=small)
    source.requires_grad_(True)
    guidance.requires_grad_(True)
    out = model(source, guidance, output_size=size)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    (out * weights).sum().backward()
    assert source.grad is not None and source.grad.abs().sum() > 0
    if model.guidance_type is not None:
        assert guidance.grad is not None and guidance.grad.abs().sum() > 0
    else:
        assert guidance.grad is None
    for pname, param in model.named_parameters():
        assert param.grad is not None, f'{name}.{pname} got no gradient'
        assert torch.isfinite(param.grad).all(), f'{name}.{pname} has a non-finite gradient'
        assert param.grad.abs().sum() > 0, f'{name}.{pname} has an all-zero gradient'


@pytest.mark.parametrize('name', NAMES)
def test_eval_mode_is_deterministic(name):
    model, size, source, guidance = setup(name)
    with torch.no_grad():
        first = model(source, guidance, output_size=size)
        second = model(source, guidance, output_size=size)
    assert torch.equal(first, second)


@pytest.mark.parametrize('name', ['SAPA', 'FADE'])
def test_feature_guided_upsamplers_take_a_finer_feature_map(name):
    model, size, source, guidance = setup(name, guidance_channels=CHANNELS)
    with torch.no_grad():
        out = model(source, guidance, output_size=size)
    assert out.shape == (2, CHANNELS, *size)
    with pytest.raises(ValueError, match='guidance has 3 channels'):
        model(source, torch.rand(2, 3, *size), output_size=size)


def test_fade_gate_is_on_for_feature_guidance_and_off_for_images():
    assert build('FADE', guidance_channels=CHANNELS).gate is not None
    assert build('FADE', guidance_channels=3).gate is None
    with pytest.raises(ValueError, match='gate'):
        build('FADE', guidance_channels=3, gate=True)


@pytest.mark.parametrize('name', ['ResizeConv', 'Deconv', 'PixelShuffle', 'DySample'])
def test_learned_upsamplers_start_as_their_interpolation_baseline(name):
    model, size, source, _ = setup(name)
    with torch.no_grad():
        out = model(source, None, output_size=size)
    if name in ('ResizeConv', 'PixelShuffle'):
        expected = F.interpolate(source, size=size, mode='nearest')
        assert torch.allclose(out, expected, atol=1e-6)
    elif name == 'DySample':  # tiny random offsets: bilinear up to ~1e-2
        expected = F.interpolate(source, size=size, mode='bilinear', align_corners=False)
        assert torch.allclose(out, expected, atol=5e-2)
    else:  # FCN bilinear deconv equals bilinear away from the border
        expected = F.interpolate(source, size=size, mode='bilinear', align_corners=False)
        assert torch.allclose(out[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-5)


# ----------------------------------------------------------------------------------------------
# The reassembly kernels against naive loops (float64)
# ----------------------------------------------------------------------------------------------

def naive_reassemble(source, kernels, k):
    """CARAFE by definition: a loop over output pixels and taps, zero padding."""
    batch, channels, height, width = source.shape
    out_h, out_w = kernels.shape[-2:]
    rows = nearest_source_index(out_h, height)
    cols = nearest_source_index(out_w, width)
    out = torch.zeros(batch, channels, out_h, out_w, dtype=source.dtype)
    r = k // 2
    for y in range(out_h):
        for x in range(out_w):
            for t in range(k * k):
                sy, sx = rows[y] + t // k - r, cols[x] + t % k - r
                if 0 <= sy < height and 0 <= sx < width:
                    out[:, :, y, x] += kernels[:, t, y, x, None] * source[:, :, sy, sx]
    return out


@pytest.mark.parametrize('size', [(10, 14), (15, 21), (13, 19), (9, 8)])
def test_reassemble_matches_naive_loop(size):
    gen = torch.Generator().manual_seed(3)
    source = torch.randn(2, 3, *SOURCE, generator=gen, dtype=torch.float64)
    kernels = torch.randn(2, 9, *size, generator=gen, dtype=torch.float64).softmax(1)
    assert torch.allclose(reassemble(source, kernels, 3), naive_reassemble(source, kernels, 3),
                          atol=1e-12)


@pytest.mark.parametrize('size', [(10, 14), (13, 19)])
def test_window_similarity_matches_gathered_windows(size):
    gen = torch.Generator().manual_seed(4)
    keys = torch.randn(1, 4, *SOURCE, generator=gen, dtype=torch.float64)
    query = torch.randn(1, 4, *size, generator=gen, dtype=torch.float64)
    expected = (gather_windows(keys, size, 5) * query.unsqueeze(2)).sum(1)
    assert torch.allclose(window_similarity(query, keys, 5), expected, atol=1e-12)


def test_carafe_matches_naive_definition_float64():
    model = build('CARAFE', scale=2).double().eval()
    with torch.no_grad():
        for param in model.parameters():  # sharper kernels than the init's
            param.normal_(0, 0.3)
    source = torch.randn(1, CHANNELS, *SOURCE, dtype=torch.float64)
    size = (SOURCE[0] * 2, SOURCE[1] * 2)
    with torch.no_grad():
        out = model(source, output_size=size)
        logits = model.content_encoder(model.channel_compressor(source))  # [1, s*s*k*k, h, w]
        kernels = torch.zeros(1, 25, *size, dtype=torch.float64)
        for y in range(size[0]):  # pixel shuffle by definition: channel t*s*s + (y%s)*s + x%s
            for x in range(size[1]):
                for t in range(25):
                    kernels[0, t, y, x] = logits[0, t * 4 + (y % 2) * 2 + x % 2, y // 2, x // 2]
        expected = naive_reassemble(source, kernels.softmax(1), 5)
    assert torch.allclose(out, expected, atol=1e-10)


def _full_mmcv_with_cuda() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        ext = importlib.import_module('mmcv._ext')
        return getattr(ext, '__file__', None) is not None and hasattr(ext, 'carafe_forward')
    except Exception:  # noqa: BLE001
        return False


def test_carafe_loads_mmcv_carafepack_state_dict_strictly():
    """mmcv's CARAFEPack module is importable with mmcv-lite (its convs need no compiled op):
    its state dict, names and shapes, loads strictly into ours. The values are compared with
    its compiled op below (GPU + full mmcv) and with a naive float64 loop above."""
    from mmcv.ops import CARAFEPack
    torch.manual_seed(0)
    ref = CARAFEPack(CHANNELS, scale_factor=2, up_kernel=5, up_group=1)
    ours = build('CARAFE', scale=2, use_mmcv=False)
    ours.load_state_dict(ref.state_dict(), strict=True)
    for name, tensor in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name


@pytest.mark.cuda
@pytest.mark.skipif(not _full_mmcv_with_cuda(), reason='needs a full mmcv with CUDA ops and a GPU')
def test_carafe_agrees_with_mmcv_carafepack():
    from mmcv.ops import CARAFEPack
    torch.manual_seed(0)
    ref = CARAFEPack(CHANNELS, scale_factor=2, up_kernel=5, up_group=1).cuda().eval()
    ours = build('CARAFE', scale=2, use_mmcv=False).cuda().eval()
    missing = ours.load_state_dict(ref.state_dict(), strict=False)
    assert not missing.missing_keys
    source = torch.randn(2, CHANNELS, *SOURCE, device='cuda')
    with torch.no_grad():
        assert torch.allclose(ours(source, output_size=(10, 14)), ref(source), atol=1e-5)


def test_ifa_queries_any_points_consistently_with_the_grid():
    model = build('IFA').eval()
    source = torch.randn(2, CHANNELS, *SOURCE)
    size = (13, 19)
    with torch.no_grad():
        grid = model(source, output_size=size)
        ys = (torch.arange(size[0]) + 0.5) / size[0] * 2 - 1
        xs = (torch.arange(size[1]) + 0.5) / size[1] * 2 - 1
        coords = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1)
        coords = coords.view(1, -1, 2).repeat(2, 1, 1)
        points = model.query(source, coords)
    assert points.shape == (2, CHANNELS, size[0] * size[1])
    assert torch.allclose(points.view_as(grid), grid, atol=1e-5)
    with pytest.raises(ValueError, match='coords'):
        model.query(source, coords[..., :1])
