"""Official-code parity of one FeatUp JBU training step (loss terms and gradients).

``golden/featup_step_official.pt`` was made once from the authors' code by
``golden/make_featup_step_golden.py`` (command, repository, commit, what was stubbed:
``golden/featup_step_README.md``): their ``JBUFeatUp.training_step`` run in float64 on
CPU for a stand-in featurizer (a fixed strided conv, then their ``ChannelNorm``), their
``JBUStack``, attention / simple downsampler and ``ScaleNet``, with fixed views and
recorded random draws (projections, window masks, CRF pixels, dropout masks). Here
:class:`FeatUpUpsamplerTrainer` loads the same weights, replays the same draws and must
reproduce the loss terms and the gradient of every trained parameter.

Configured as the authors: ``upsample_per_view=True``; the CRF term's image is swapped
for the un-jittered one (the authors' ``crf(img, ...)``) in the step comparison, and our
default (the jittered image, docs/featup_training.md) is compared separately.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import mmfeatup.models  # noqa: F401  (registers everything)
import mmfeatup.models.featup.trainer as trainer_module
from mmfeatup.models.featup import FeatUpUpsamplerTrainer, JitterParams, apply_jitter
from mmfeatup.utils.featup_checkpoint import convert_featup_state_dict

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden', 'featup_step_official.pt')
TOLERANCE = 1e-10  # float64: max |ours - official| / max |official|, per loss term / tensor
CASES = ('attention', 'simple')


@pytest.fixture(scope='module')
def golden() -> Dict[str, Any]:
    return torch.load(GOLDEN, map_location='cpu', weights_only=True)


def relative_error(ours: Tensor, official: Tensor) -> float:
    assert ours.shape == official.shape, (ours.shape, official.shape)
    return ((ours - official).abs().max() / official.abs().max()).item()


class StandInFeaturizer(nn.Module):
    """The golden's featurizer: normalise, ``Conv2d(3, C, s, stride=s)``, channel LayerNorm
    (the authors' ``ChannelNorm``, which their ``JBUFeatUp`` appends)."""

    def __init__(self, case: Dict[str, Any]) -> None:
        super().__init__()
        config = case['config']
        self.channels, self.stride = config['channels'], config['stride']
        self.conv = nn.Conv2d(3, self.channels, self.stride, stride=self.stride)
        self.norm = nn.LayerNorm(self.channels)
        self.conv.load_state_dict(
            {k[len('conv.'):]: v for k, v in case['featurizer'].items()}, strict=True)
        self.norm.load_state_dict(  # their ChannelNorm holds a LayerNorm named norm
            {k[len('norm.'):]: v for k, v in case['channel_norm'].items()}, strict=True)
        for key in ('mean', 'std'):  # float64, as torchvision's Normalize of a float64 image
            value = torch.tensor(config[key], dtype=torch.float64)
            self.register_buffer(key, value.view(1, 3, 1, 1))
        self.requires_grad_(False)

    def normalize(self, images01: Tensor) -> Tensor:
        return (images01 - self.mean) / self.std

    def forward(self, images01: Tensor) -> Tensor:
        feats = self.conv(self.normalize(images01))
        return self.norm(feats.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ReplayDropout(nn.Module):
    """Dropout that applies the golden's recorded keep-masks in order (``x * m / (1 - p)``)."""

    def __init__(self, p: float, masks: List[Tensor], channelwise: bool) -> None:
        super().__init__()
        self.p, self.channelwise, self.masks = p, channelwise, iter(masks)

    def forward(self, x: Tensor) -> Tensor:
        keep = next(self.masks)
        if self.channelwise:  # [B, C] (Dropout2d)
            keep = keep.view(*keep.shape, *[1] * (x.dim() - 2))
        else:  # packed bits of the authors' [B, h, w, taps, C]: the same order as ours
            keep = torch.from_numpy(np.unpackbits(keep.numpy())[:x.numel()].astype(bool))
            keep = keep.view(x.shape)
        return x * keep.to(x.dtype) / (1 - self.p)


class CRFOnImage(nn.Module):
    """Our CRF loss with its guidance replaced by a fixed image (the authors' ``img``)."""

    def __init__(self, crf: nn.Module, image: Tensor) -> None:
        super().__init__()
        self.crf, self.image = crf, image

    def forward(self, guidance: Tensor, features: Tensor) -> Tensor:
        assert guidance.shape == self.image.shape
        return self.crf(self.image, features)


def build_ours(case: Dict[str, Any]) -> FeatUpUpsamplerTrainer:
    """Ours configured as the authors' step, with the golden's weights and dropout masks."""
    config = case['config']
    model = FeatUpUpsamplerTrainer(
        StandInFeaturizer(case), dict(type='JBUStack'),
        downsampler=dict(type=config['downsampler'], kernel_size=config['kernel_size']),
        n_jitters=config['n_jitters'], max_pad=config['max_pad'], max_zoom=config['max_zoom'],
        proj_dim=config['proj_dim'], predicted_uncertainty=True,
        crf_weight=config['crf_weight'], crf_cfg=dict(n_samples=config['crf_samples']),
        tv_weight=config['tv_weight'], upsample_per_view=True)
    state = case['state_dict']
    model.upsampler.load_state_dict(convert_featup_state_dict(state, prefix='upsampler.'),
                                    strict=True)
    down = {k[len('downsampler.'):]: v for k, v in state.items() if k.startswith('downsampler.')}
    if config['downsampler'] == 'attention':  # theirs: w, b [k, k]; ours: [k * k]
        down['w'], down['b'] = down['w'].flatten(), down['b'].flatten()
    model.downsampler.load_state_dict(down, strict=True)
    model.scale_net.load_state_dict(
        {k[len('scale_net.'):]: v for k, v in state.items() if k.startswith('scale_net.')},
        strict=True)
    model = model.double().train()
    for name, masks in case['dropout_masks'].items():
        parent, _, attr = name.rpartition('.')
        module = model.get_submodule(parent)
        old = getattr(module, attr)
        assert isinstance(old, (nn.Dropout, nn.Dropout2d)), name
        setattr(module, attr, ReplayDropout(old.p, list(masks),
                                            isinstance(old, nn.Dropout2d)))
    left = [n for n, m in model.named_modules() if isinstance(m, (nn.Dropout, nn.Dropout2d))]
    assert not left, f'dropout without recorded masks: {left}'
    return model


def replay_randomness(monkeypatch: pytest.MonkeyPatch, case: Dict[str, Any]) -> None:
    """Our step draws the golden's views, projections, window masks and CRF pixels."""
    config = case['config']
    views: Iterator[Dict[str, Any]] = iter(case['views'])

    def fixed_view(height: int, width: int, max_pad: int, *args: Any,
                   **kwargs: Any) -> JitterParams:
        view = next(views)
        return JitterParams(flip=view['flip'], zoom=view['zoom'], top=view['x'],
                            left=view['y'], max_pad=max_pad)

    projections = iter(case['projections'])
    windows = iter(case['window_keep'] if case['window_keep'] is not None else [])
    coords = iter(case['crf_coords'].long())
    sizes = iter(case['images01'].shape[-2:])

    def randn(*shape: Any, **kwargs: Any) -> Tensor:
        proj = next(projections)
        assert tuple(shape) == tuple(proj.shape), shape
        return proj.clone()

    def rand(shape: Any, **kwargs: Any) -> Tensor:  # the attention window masks
        keep = next(windows)
        return keep.reshape(shape).double()  # 1 > 0.2 kept, 0 dropped

    def randint(low: int, high: int, size: Any, **kwargs: Any) -> Tensor:  # the CRF pixels
        assert (low, high, tuple(size)) == (0, next(sizes), (config['crf_samples'],))
        return next(coords).clone()

    monkeypatch.setattr(trainer_module, 'sample_jitter', fixed_view)
    monkeypatch.setattr(torch, 'randn', randn)
    monkeypatch.setattr(torch, 'rand', rand)
    monkeypatch.setattr(torch, 'randint', randint)


def run_ours(monkeypatch: pytest.MonkeyPatch, case: Dict[str, Any],
             authors_crf_image: bool) -> tuple:
    """Our losses (float64) and the gradient of every trained parameter (golden order)."""
    model = build_ours(case)
    images01 = case['images01'].double()
    if authors_crf_image:
        model.crf = CRFOnImage(model.crf, model.featurizer.normalize(images01))
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # as the golden's run (e.g. the CRF's pixel
    try:  # positions follow the default dtype on both sides)
        with monkeypatch.context() as patch:
            replay_randomness(patch, case)
            losses = model.loss(images01)
    finally:
        torch.set_default_dtype(default)
    sum(losses.values()).backward()
    params = dict(model.named_parameters())
    grads = {name: params[name].grad for name in case['grad_names']}
    return losses, grads


def official_grads(case: Dict[str, Any]) -> Dict[str, Tensor]:
    shapes = {k: v.shape for k, v in case['state_dict'].items()}
    sizes = [shapes[k].numel() for k in case['grad_names']]
    return {k: g.view(shapes[k]) for k, g in
            zip(case['grad_names'], case['grads'].split(sizes))}


@pytest.mark.parametrize('name', CASES)
def test_training_step_matches_the_authors(golden, monkeypatch, name):
    """Loss terms and all gradients of the authors' step, to float64 rounding."""
    case = golden[name]
    config = case['config']
    losses, grads = run_ours(monkeypatch, case, authors_crf_image=True)
    official = case['losses']  # sums over the views; CRF and TV unweighted
    ours = dict(rec=losses['loss_rec'].item(),
                crf=losses['loss_crf'].item() / config['crf_weight'],
                tv=losses['loss_tv'].item() / config['tv_weight'],
                total=sum(losses.values()).item())
    for term, value in ours.items():
        assert abs(value - official[term]) <= TOLERANCE * abs(official[term]), (term, value,
                                                                                official[term])
    expected = official_grads(case)
    assert grads.keys() == expected.keys()
    for param, grad in grads.items():
        assert grad is not None, param
        assert relative_error(grad.view(expected[param].shape), expected[param]) <= TOLERANCE, \
            param


@pytest.mark.parametrize('name', CASES)
def test_crf_on_the_jittered_image_is_the_only_difference(golden, monkeypatch, name):
    """Our default CRF image (the jittered one, docs/featup_training.md) changes the CRF
    term only: the reconstruction and TV terms stay the authors'."""
    case = golden[name]
    config = case['config']
    losses, _ = run_ours(monkeypatch, case, authors_crf_image=False)
    official = case['losses']
    assert abs(losses['loss_rec'].item() - official['rec']) <= TOLERANCE * official['rec']
    assert abs(losses['loss_tv'].item() / config['tv_weight'] - official['tv']) <= \
        TOLERANCE * official['tv']
    crf = losses['loss_crf'].item() / config['crf_weight']
    assert abs(crf - official['crf']) > 1e-3 * official['crf']  # a real difference


def jitter_error(golden: Dict[str, Any], key: str) -> float:
    check = golden['jitter_check']
    view = check[key]['view']
    ours = apply_jitter(check['images01'].double(),
                        JitterParams(view['flip'], view['zoom'], view['x'], view['y'],
                                     check['max_pad']))
    return relative_error(ours, check[key]['out_float64'])


def test_apply_jitter_matches_the_authors_at_integer_zoomed_sizes(golden):
    """Where ``zoom * (size + 2 pad)`` is an integer on both sides (the step's views; here
    view 0: zoom 1.25, flip), our view equals the authors' ``apply_jitter``."""
    assert jitter_error(golden, 'integer') <= TOLERANCE


def test_apply_jitter_matches_the_authors_at_fractional_zoomed_sizes(golden):
    """The authors zoom with ``F.interpolate(scale_factor=zoom)``, which samples at
    ``(i + 0.5) / zoom - 0.5``. Resizing to ``size=floor(zoom * (size + 2 pad))`` instead
    (mmfeatup before this test) samples at ``(i + 0.5) * in / out - 0.5``: the same only when
    ``zoom * (size + 2 pad)`` is an integer, otherwise a sub-pixel shift growing towards the far
    border (measured 0.133 max, 0.013 mean on [0, 1] pixels at zoom 1.3, 48x96, max_pad 20)."""
    assert jitter_error(golden, 'fractional') <= TOLERANCE
