"""Parity of DySample and IFA with the authors' code, on golden tensors.

``golden/dysample_official.pt`` and ``golden/ifa_official.pt`` were made once by running
the official implementations (repositories and commits inside the files and in
``golden/dysample_ifa_README.md``; command in ``golden/make_dysample_ifa_goldens.py``). Each
test builds ours with the official defaults, loads the official state dict strictly and
compares with the official output: <= 1e-5 relative in float32, <= 1e-10 in float64
(relative = max abs error / max abs value).
"""
import runpy
import os

import pytest
import torch

import mmfeatup.models  # noqa: F401  (registers everything)
from mmfeatup.models.upsamplers.dysample import (DySampleUpsampler,
                                                 convert_dysample_legacy_state_dict)
from mmfeatup.models.upsamplers.ifa import IFAUpsampler, convert_ifa_official_state_dict
from mmfeatup.registry import build_upsampler

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden')
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
DTYPES = [torch.float32, torch.float64]


def load(name):
    return torch.load(os.path.join(GOLDEN, name), map_location='cpu', weights_only=True)


def relative_error(out, ref):
    return ((out - ref).abs().max() / ref.abs().max()).item()


def recipe():
    """The deterministic weight recipe the goldens were made with (a file beside them)."""
    return runpy.run_path(os.path.join(GOLDEN, 'ifa_weight_recipe.py'))


# ------------------------------------------------------------------------------------------
# DySample (tiny-smart/dysample)
# ------------------------------------------------------------------------------------------

DYSAMPLE = load('dysample_official.pt')


def build_dysample(case, channels):
    return build_upsampler(dict(type='DySample', scale_factor=case['scale'], style=case['style'],
                                groups=case['groups'], dyscope=case['dyscope']),
                           in_channels=channels)


def test_dysample_defaults_are_the_official_ones():
    default = DYSAMPLE['cases'][0]
    assert (default['style'], default['groups'], default['dyscope'], default['scale']) == \
        ('lp', 4, False, 2)
    model = build_upsampler(dict(type='DySample'), in_channels=8)
    assert (model.style, model.groups, model.scope, model.scale) == ('lp', 4, None, 2)
    assert set(model.state_dict()) == set(default['state_dict'])
    assert torch.equal(model.init_pos, default['state_dict']['init_pos'])


@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('index', range(len(DYSAMPLE['cases'])))
def test_dysample_matches_official(index, dtype):
    case = DYSAMPLE['cases'][index]
    source = DYSAMPLE['source'].to(dtype)
    model = build_dysample(case, source.shape[1])
    model.load_state_dict(case['state_dict'], strict=True)
    model = model.to(dtype).eval()
    ref = case[str(dtype)]
    with torch.no_grad():
        out = model(source, output_size=ref.shape[-2:])
    assert out.dtype == dtype and out.shape == ref.shape
    assert relative_error(out, ref) <= TOLERANCE[dtype], (case['style'], case['dyscope'])


def test_dysample_old_layout_or_wrong_keys_fail_loudly():
    case = DYSAMPLE['cases'][0]
    model = build_dysample(case, DYSAMPLE['source'].shape[1])
    legacy = {k: v for k, v in case['state_dict'].items() if k != 'init_pos'}
    with pytest.raises(RuntimeError, match='init_pos'):  # our pre-parity layout
        model.load_state_dict(legacy, strict=True)
    with pytest.raises(RuntimeError, match='scope.weight'):  # a dyscope checkpoint
        model.load_state_dict(
            dict(case['state_dict'], **{'scope.weight': legacy['offset.weight']}), strict=True)
    with pytest.raises(RuntimeError, match='size mismatch'):  # other groups / scale
        build_upsampler(dict(type='DySample', groups=2), in_channels=8).load_state_dict(
            case['state_dict'], strict=True)
    with pytest.raises(ValueError, match='init_pos'):
        convert_dysample_legacy_state_dict(case['state_dict'], scale=2, groups=4)


def test_dysample_legacy_converter_permutes_channels():
    """Old (group, xy, subpixel) channels -> official (xy, group, subpixel)."""
    groups, scale, channels = 4, 2, 8
    old = {'offset.weight': torch.arange(2 * groups * scale ** 2 * channels, dtype=torch.float32
                                         ).view(-1, channels, 1, 1),
           'offset.bias': torch.arange(2 * groups * scale ** 2, dtype=torch.float32)}
    new = convert_dysample_legacy_state_dict(old, scale=scale, groups=groups)
    model = DySampleUpsampler(channels, scale_factor=scale, groups=groups)
    model.load_state_dict(new, strict=True)
    for g in range(groups):
        for xy in range(2):
            for p in range(scale ** 2):
                assert new['offset.bias'][(xy * groups + g) * 4 + p] == old['offset.bias'][
                    (g * 2 + xy) * 4 + p]


@pytest.mark.parametrize('index', range(len(DYSAMPLE['cases']) - 1))  # the x2 cases
def test_dysample_generalised_ratio_is_consistent_at_the_design_ratio(index):
    """The resized-field path (other output sizes) equals the official path at ratio s."""
    case = DYSAMPLE['cases'][index]
    source = DYSAMPLE['source'].double()
    model = build_dysample(case, source.shape[1]).double()
    model.load_state_dict(case['state_dict'], strict=True)
    size = (source.shape[-2] * case['scale'], source.shape[-1] * case['scale'])
    with torch.no_grad():
        official_path = model.sampling_grid(source, size)
        general = model.resized_field_grid(model.learned_offsets(source), size,
                                           tuple(source.shape[-2:]))
        other = model(source, output_size=(size[0] + 1, size[1] - 1))
    assert (general - official_path).abs().max() <= 1e-12
    assert other.shape[-2:] == (size[0] + 1, size[1] - 1) and torch.isfinite(other).all()


# ------------------------------------------------------------------------------------------
# IFA (hzhupku/IFA)
# ------------------------------------------------------------------------------------------

IFA = load('ifa_official.pt')


def official_ifa_state():
    module = recipe()
    template = {name: torch.zeros(shape) for name, shape in IFA['state_keys']}
    template = {name: (torch.zeros((), dtype=torch.int64) if name.endswith('num_batches_tracked')
                       else value) for name, value in template.items()}
    # the recipe's emb starts from the official init: ours must rebuild it (hash below)
    template['pos1.emb'] = IFAUpsampler(1).pos.emb.detach().clone()
    for level in (2, 3, 4):
        template[f'pos{level}.emb'] = template['pos1.emb']
    state = module['recipe_state_dict'](template)
    assert module['state_sha256'](state) == IFA['state_sha256'], \
        'recipe does not rebuild the state dict the official module ran with'
    return state


def test_ifa_defaults_are_the_official_structure():
    model = build_upsampler(dict(type='IFA'), in_channels=8)
    convs = [m for m in model.imnet if isinstance(m, torch.nn.Conv1d)]
    norms = [m for m in model.imnet if isinstance(m, torch.nn.BatchNorm1d)]
    assert [c.out_channels for c in convs] == [512, 256, 256, 8]
    assert convs[0].in_channels == 26 + 8 and len(norms) == 3
    assert [type(m).__name__ for m in model.imnet] == ['Conv1d', 'BatchNorm1d', 'ReLU'] * 3 + [
        'Conv1d']
    assert [k for k, _ in IFA['state_keys'] if not k.startswith('pos')] == [
        k for k in model.state_dict() if not k.startswith('pos')]
    assert isinstance(model.pos.emb, torch.nn.Parameter) and model.pos.emb.shape == (12, 2)
    freqs = 2 ** torch.linspace(0, 6, 6, dtype=torch.float64)
    assert torch.equal(model.pos.emb[:6, 0], freqs.float())
    assert torch.equal(model.pos.emb[6:, 1], freqs.float())
    assert not model.pos.emb[:6, 1].any() and not model.pos.emb[6:, 0].any()


@pytest.mark.parametrize('index', range(len(IFA['cases'])))
def test_ifa_matches_official(index):
    case = IFA['cases'][index]
    dtype = getattr(torch, case['dtype'].split('.')[-1])
    source = IFA['source'].to(dtype)
    model = build_upsampler(dict(type='IFA'), in_channels=source.shape[1])
    model.load_state_dict(convert_ifa_official_state_dict(official_ifa_state()), strict=True)
    model = model.to(dtype).train(case['mode'] == 'train')
    with torch.no_grad():
        out = model(source, output_size=case['size'])
    ref = case['output']
    assert out.shape == ref.shape
    assert relative_error(out, ref) <= TOLERANCE[dtype], (case['size'], case['mode'])


def test_ifa_old_layout_or_wrong_keys_fail_loudly():
    channels = IFA['source'].shape[1]
    model = build_upsampler(dict(type='IFA'), in_channels=channels)
    old = {'feature_proj.weight': torch.zeros(256, channels, 1, 1),  # our pre-parity layout
           'feature_proj.bias': torch.zeros(256),
           'position_proj.weight': torch.zeros(256, 26, 1, 1),
           'mlp.1.weight': torch.zeros(256, 256, 1, 1), 'mlp.1.bias': torch.zeros(256),
           'mlp.3.weight': torch.zeros(channels, 256, 1, 1), 'mlp.3.bias': torch.zeros(channels)}
    with pytest.raises(RuntimeError, match='Missing key'):
        model.load_state_dict(old, strict=True)
    with pytest.raises(KeyError, match='feature_proj'):
        convert_ifa_official_state_dict(old)
    state = official_ifa_state()
    with pytest.raises(RuntimeError, match='Unexpected key'):  # unconverted: pos1..pos4
        model.load_state_dict(state, strict=True)
    multi_level = dict(state, **{'imnet.0.weight': torch.zeros(512, 4 * (256 + 26), 1)})
    with pytest.raises(RuntimeError, match='size mismatch'):
        model.load_state_dict(convert_ifa_official_state_dict(multi_level), strict=True)


# ------------------------------------------------------------------------------------------
# The converter command lines (tools/model_converters)
# ------------------------------------------------------------------------------------------

def test_ifa_converter_tool_reads_an_official_training_checkpoint(tmp_path, load_tool):
    state = official_ifa_state()
    src, dst = tmp_path / 'official.pth', tmp_path / 'ours.pth'
    torch.save({'model_state': {f'module.decoder.ifa.{k}': v for k, v in state.items()}}, src)
    channels = IFA['source'].shape[1]
    out = load_tool('model_converters/official_upsampler_to_mmfeatup.py').main(
        ['ifa', str(src), str(dst), '--in-channels', str(channels), '--prefix', 'decoder.ifa.'])
    model = IFAUpsampler(channels)
    model.load_state_dict(torch.load(dst, weights_only=True), strict=True)
    assert set(out) == set(model.state_dict())


def test_dysample_legacy_converter_tool(tmp_path, load_tool):
    case = DYSAMPLE['cases'][0]
    legacy = {f'neck.upsampler.{k}': v for k, v in case['state_dict'].items() if k != 'init_pos'}
    src, dst = tmp_path / 'old.pth', tmp_path / 'new.pth'
    torch.save({'state_dict': dict(legacy, **{'backbone.w': torch.ones(1)})}, src)
    load_tool('model_converters/official_upsampler_to_mmfeatup.py').main(
        ['dysample-legacy', str(src), str(dst), '--prefix', 'neck.upsampler.'])
    state = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(state['backbone.w'], torch.ones(1))
    model = build_dysample(case, 8)
    model.load_state_dict({k[len('neck.upsampler.'):]: v for k, v in state.items()
                           if k.startswith('neck.upsampler.')}, strict=True)
