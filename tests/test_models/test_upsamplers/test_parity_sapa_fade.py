"""Official-code parity of SAPA and FADE (FADE, FADE-Lite, SemiShiftUp).

The goldens in ``golden/`` were made once from the authors' code by
``golden/make_sapa_fade_goldens.py`` (command, repositories, commits:
``golden/sapa_fade_README.md``): an official state dict, an input pair (non-square
5x7 source, x2) and the official outputs in float64 and float32. Here ours is
built with the official defaults, loads the converted state dict STRICTLY and
must reproduce the outputs.
"""
import os

import pytest
import torch

import mmfeatup.models  # noqa: F401  (registers everything)
from mmfeatup.models.upsamplers.fade import (FADELiteUpsampler, FADEUpsampler,
                                             convert_official_fade_state_dict)
from mmfeatup.models.upsamplers.sapa import SAPAUpsampler, convert_official_sapa_state_dict
from mmfeatup.registry import build_upsampler

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden')
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}  # max |ours - official| / max |official|


def load_golden(name: str) -> dict:
    return torch.load(os.path.join(GOLDEN, name), map_location='cpu', weights_only=True)


def relative_error(ours: torch.Tensor, official: torch.Tensor) -> float:
    assert ours.shape == official.shape and ours.dtype == official.dtype
    return ((ours - official).abs().max() / official.abs().max()).item()


def run(model: torch.nn.Module, golden: dict, dtype: torch.dtype) -> torch.Tensor:
    model = model.to(dtype).eval()
    with torch.no_grad():
        return model(golden['source'].to(dtype), golden['guidance'].to(dtype))


# ----------------------------------------------------------------------------------------------
# SAPA
# ----------------------------------------------------------------------------------------------

def sapa_from_golden(golden: dict) -> SAPAUpsampler:
    model = SAPAUpsampler(**golden['config'])  # official defaults: k_up=5, E=64, qkv_bias
    model.load_state_dict(convert_official_sapa_state_dict(golden['state_dict']), strict=True)
    return model


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_sapa_reproduces_the_official_output(dtype):
    golden = load_golden('sapa_official.pt')
    out = run(sapa_from_golden(golden), golden, dtype)
    assert relative_error(out, golden[f'out_{str(dtype)[6:]}']) <= TOLERANCE[dtype]


def test_sapa_exclude_border_differs_from_official_only_near_the_border():
    golden = load_golden('sapa_official.pt')
    model = SAPAUpsampler(**golden['config'], border='exclude')
    model.load_state_dict(convert_official_sapa_state_dict(golden['state_dict']), strict=True)
    out = run(model, golden, torch.float64)
    diff = (out - golden['out_float64']).abs()
    # 5x7 source, k_up=5: only source row 2 is >= 2 cells from the top and bottom
    assert diff[..., :4, :].max() > 1e-3 and diff[..., 6:, :].max() > 1e-3
    assert diff[..., 4:6, 4:10].max() < 1e-12  # source rows 2, cols 2..4: full windows


def test_sapa_border_biases_learn():
    golden = load_golden('sapa_official.pt')
    model = sapa_from_golden(golden).double()
    out = model(golden['source'].double(), golden['guidance'].double())
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(0),
                          dtype=torch.float64)
    (out * weights).sum().backward()
    for name in ('key.bias', 'norm_source.norm.bias', 'query.bias', 'norm_guidance.norm.bias'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().max() > 1e-6, name


def test_sapa_exclude_border_makes_the_key_bias_gradient_free():
    """Documents why ``border='exclude'`` is not the default."""
    golden = load_golden('sapa_official.pt')
    model = SAPAUpsampler(**golden['config'], border='exclude').double()
    model.load_state_dict(convert_official_sapa_state_dict(golden['state_dict']), strict=True)
    out = model(golden['source'].double(), golden['guidance'].double())
    out.sum().backward()
    assert model.key.bias.grad.abs().max() < 1e-12
    assert model.norm_source.norm.bias.grad.abs().max() < 1e-12


def test_sapa_converter_and_options():
    golden = load_golden('sapa_official.pt')
    state = golden['state_dict']
    with pytest.raises(KeyError, match='unknown'):
        convert_official_sapa_state_dict({**state, 'extra': torch.zeros(1)})
    with pytest.raises(KeyError, match='k.weight'):
        convert_official_sapa_state_dict({k: v for k, v in state.items() if k != 'k.weight'})
    prefixed = {f'decode_head.up.{k}': v for k, v in state.items()}
    prefixed['decode_head.conv.weight'] = torch.zeros(1)
    converted = convert_official_sapa_state_dict(prefixed, prefix='decode_head.up.')
    assert converted.keys() == convert_official_sapa_state_dict(state).keys()
    no_bias = {k: v for k, v in state.items() if k not in ('q.bias', 'k.bias')}
    SAPAUpsampler(**golden['config'], qkv_bias=False).load_state_dict(
        convert_official_sapa_state_dict(no_bias), strict=True)
    with pytest.raises(ValueError, match='border'):
        SAPAUpsampler(3, border='mask')
    assert build_upsampler(dict(type='SAPA'), in_channels=3).border == 'zero'


# ----------------------------------------------------------------------------------------------
# FADE, FADE-Lite, SemiShiftUp
# ----------------------------------------------------------------------------------------------

def fade_from_golden(golden: dict, variant: str) -> FADEUpsampler:
    """Ours with the official defaults (k_up=5, embedding 64 / k_up^2 for Lite)."""
    config = golden['config']
    if variant == 'FADE':
        model, state = FADEUpsampler(**config), golden['FADE']['state_dict']
        assert model.gate is not None  # 'auto': on for feature guidance of C channels
    elif variant == 'FADELite':
        model, state = FADELiteUpsampler(**config), golden['FADELite']['state_dict']
        assert model.gate is not None
    else:  # official SemiShiftUp = FADE's kernel generator without the gate
        model = FADEUpsampler(**config, gate=False)
        state = {k: v for k, v in golden['FADE']['state_dict'].items()
                 if k.startswith('ker_generator.')}
    model.load_state_dict(convert_official_fade_state_dict(state), strict=True)
    return model


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('variant', ['FADE', 'FADELite', 'SemiShiftUp'])
def test_fade_reproduces_the_official_output(variant, dtype):
    golden = load_golden('fade_official.pt')
    out = run(fade_from_golden(golden, variant), golden, dtype)
    assert relative_error(out, golden[variant][f'out_{str(dtype)[6:]}']) <= TOLERANCE[dtype]


def test_fade_lite_is_registered_and_rejects_a_wrong_embedding():
    model = build_upsampler(dict(type='FADELite'), in_channels=4, guidance_channels=4)
    assert isinstance(model, FADEUpsampler) and model.lite and model.gate is not None
    assert tuple(model.kernel_weight.shape) == (25, 1, 3, 3)
    assert tuple(model.compress_guidance.weight.shape) == (25, 4, 1, 1)
    assert build_upsampler(dict(type='FADE', lite=True), in_channels=4).lite
    with pytest.raises(ValueError, match='embedding_dim'):
        FADEUpsampler(4, lite=True, embedding_dim=64)


def test_fade_converter_keys():
    golden = load_golden('fade_official.pt')
    state = golden['FADE']['state_dict']
    with pytest.raises(KeyError, match='unknown'):
        convert_official_fade_state_dict({**state, 'carafe.x': torch.zeros(1)})
    with pytest.raises(KeyError, match='content_encoder.bias'):
        convert_official_fade_state_dict(
            {k: v for k, v in state.items() if k != 'ker_generator.content_encoder.bias'})
    with pytest.raises(RuntimeError, match='gate'):  # a gated state dict needs a gated model
        FADEUpsampler(**golden['config'], gate=False).load_state_dict(
            convert_official_fade_state_dict(state), strict=True)


@pytest.mark.parametrize('lite', [False, True])
def test_fade_official_init_xavier_uniform_zero_bias(lite):
    torch.manual_seed(0)
    cin, taps = 96, 25
    model = FADEUpsampler(cin, guidance_channels=cin, lite=lite)
    emb = taps if lite else 64
    expected = {  # xavier-uniform bound sqrt(6 / (fan_in + fan_out))
        'compress_guidance.weight': (6 / (cin + emb)) ** 0.5,
        'compress_source.weight': (6 / (cin + emb)) ** 0.5,
        'kernel_weight': (6 / ((1 if lite else emb) * 9 + taps * 9)) ** 0.5,
        'gate.weight': (6 / (cin + 1)) ** 0.5,
    }
    params = dict(model.named_parameters())
    for name, bound in expected.items():
        weight = params[name].detach().flatten()
        assert weight.abs().max() <= bound, name
        assert weight.abs().max() > 0.9 * bound, name  # uniform: fills the range
        # a uniform on [-b, b] has std b / sqrt(3); (PyTorch's default conv init: b / 3)
        assert abs(weight.std().item() / (bound / 3 ** 0.5) - 1) < 0.2, name
    for name in ('compress_guidance.bias', 'kernel_bias', 'gate.bias'):
        assert torch.count_nonzero(params[name]) == 0, name
    assert model.compress_source.bias is None


# ----------------------------------------------------------------------------------------------
# tools/model_converters/official_upsampler_to_mmfeatup.py
# ----------------------------------------------------------------------------------------------

def test_converter_tool_writes_strictly_loadable_state_dicts(tmp_path, load_tool):
    tool = load_tool('model_converters/official_upsampler_to_mmfeatup.py')

    sapa, fade = load_golden('sapa_official.pt'), load_golden('fade_official.pt')
    src = tmp_path / 'sapa.pth'
    torch.save({'state_dict': {f'decode_head.upsamplers.0.{k}': v
                               for k, v in sapa['state_dict'].items()}}, src)
    tool.main(['sapa', str(src), str(tmp_path / 'ours_sapa.pth'),
               '--prefix', 'decode_head.upsamplers.0.'])
    SAPAUpsampler(**sapa['config']).load_state_dict(
        torch.load(tmp_path / 'ours_sapa.pth', weights_only=True), strict=True)

    src = tmp_path / 'lite.pth'
    torch.save(fade['FADELite']['state_dict'], src)
    tool.main(['fade', str(src), str(tmp_path / 'ours_lite.pth')])
    FADELiteUpsampler(**fade['config']).load_state_dict(
        torch.load(tmp_path / 'ours_lite.pth', weights_only=True), strict=True)
    with pytest.raises(ValueError, match='unknown'):
        tool.main(['fade', str(tmp_path / 'sapa.pth'), str(tmp_path / 'x.pth')])
