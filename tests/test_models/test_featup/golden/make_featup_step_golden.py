"""Generate the FeatUp JBU training-step golden from the AUTHORS' code (run once, by hand).

Nothing here is mmfeatup code and nothing of the authors' code is copied: their files are
extracted from a git mirror of github.com/mhamilton723/FeatUp (``git archive``) into a
folder OUTSIDE this repository and imported from there (featup_step_README.md in this
folder has the exact command and commit). ``JBUFeatUp.training_step`` of
``featup/train_jbu_upsampler.py`` runs unchanged, in float64 on CPU, with the authors'
``JBUStack``, ``AttentionDownsampler`` / ``SimpleDownsampler``, ``ScaleNet``,
``SampledCRFLoss``, ``TVLoss``, ``apply_jitter`` and ``ChannelNorm``. This script adds
only the harness:

* featurizer: ``get_featurizer`` returns a fixed random ``Conv2d(3, 8, 16, stride=16)``
  (their ``JBUFeatUp`` wraps it in their ``ChannelNorm`` itself); the same weights are
  the test's featurizer.
* Lightning: ``optimizers()`` returns a recorder whose ``step()`` stores the accumulated
  gradients (before any update), ``manual_backward(loss)`` is ``loss.backward()`` (what
  Lightning's 32/64-bit precision plugin does), ``log`` is a no-op and the trainer is a
  stand-in at ``global_step = 10`` (so neither their every-100-steps checkpoint nor their
  early gradient clipping runs: the gradients are the raw ones).
* randomness, fixed and stored: ``sample_transform`` returns given views (zooms whose
  zoomed padded sizes are integers, see the README); the ``torch.randn`` projections,
  the ``torch.rand`` window masks of their attention downsampler and the ``torch.randint``
  pixel samples of their CRF are drawn by their code from a seeded generator and
  recorded; the ``Dropout`` / ``Dropout2d`` modules are replaced by modules applying
  recorded Bernoulli masks the same way (``x * mask / (1 - p)``).
* ``AdaptiveConv``: their ``adaptive_conv_cuda/adaptive_conv.py`` runs (forward and
  backward), with its compiled ``adaptive_conv_cpp_impl`` bound to a vectorised
  (``unfold``) version of the same three functions: their own C++ CPU file takes ~20 us
  per multiply-add here (minutes per step). Their C++ file IS compiled
  (``torch.utils.cpp_extension``) and the stand-in is checked against it on a small case
  first; the max differences are stored (``adaptive_conv_check``).
* ``.cuda()`` in ``AttentionDownsampler.__init__`` is the identity during construction.

Parameters are the authors' init, then perturbed (``2 * init + 0.2 * noise``) and rounded
to float16 values; images are float16 values too, so everything stored is exact in float64.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import types
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEATUP_COMMIT = '6b5a6c0e91f75e69194807128dcbc39c3084a30d'
FEATUP_REPO = 'https://github.com/mhamilton723/FeatUp'
CHANNELS, STRIDE = 8, 16
MAX_PAD, MAX_ZOOM = 20, 2.0  # the authors' jbu_upsampler.yaml
PROJ_DIM, CRF_WEIGHT = 30, 0.001  # the authors' jbu_upsampler.yaml
TV_WEIGHT = 0.001  # theirs is 0 (off): on here so that the TV term is compared too
# (flip, zoom, x, y): zoom * (size + 2 * MAX_PAD) is an integer for 48 and 96 (see README)
VIEWS = [(True, 1.25, 13, 57), (False, 1.0, 5, 31), (True, 1.5, 70, 100)]
JITTER_CHECK_VIEW = (True, 1.3, 17, 23)  # a fractional zoomed size: 114.4 x 176.8
CASES = {  # name: (downsampler, image size, views)
    'attention': ('attention', (48, 96), VIEWS),  # the authors' defaults; non-square
    'simple': ('simple', (48, 48), VIEWS[:2]),  # their SimpleDownsampler is square-only
}
_RAND = torch.rand  # the dropout masks' draws, kept off the RandomTape
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                os.pardir, 'test_upsamplers', 'golden'))
from golden_io import save_goldens  # noqa: E402


# ----------------------------------------------------------------------------------------------
# The authors' files and their C++ op
# ----------------------------------------------------------------------------------------------

def extract(mirror: str, commit: str, dest: str) -> str:
    """``git archive COMMIT featup`` of the mirror into ``dest``; returns ``dest``."""
    os.makedirs(dest, exist_ok=True)
    archive = subprocess.run(['git', '-C', mirror, 'archive', commit, 'featup'], check=True,
                             capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', dest], input=archive, check=True)
    return dest


def build_cpp_op(repo: str, build_dir: str) -> types.ModuleType:
    """Compile the authors' ``adaptive_conv.cpp`` (their ``CppExtension``, asserts on)."""
    from torch.utils.cpp_extension import load
    os.makedirs(build_dir, exist_ok=True)
    return load('adaptive_conv_cpp_impl',
                [os.path.join(repo, 'featup', 'adaptive_conv_cuda', 'adaptive_conv.cpp')],
                build_directory=build_dir, extra_cflags=['-O2', '-UNDEBUG'])


def _windows(x: Tensor, taps: int, out_hw: tuple) -> Tensor:
    """``[B, C, H_in, W_in] -> [B, C, I, J, H_out, W_out]`` sliding windows."""
    b, c = x.shape[:2]
    return F.unfold(x, taps).view(b, c, taps, taps, *out_hw)


def unfold_forward(input: Tensor, filters: Tensor) -> Tensor:
    """``out[b, c, h, w] = sum_ij filters[b, h, w, i, j] input[b, c, h + i, w + j]``."""
    b, h, w, i, _ = filters.shape
    return torch.einsum('bcijhw,bhwij->bchw', _windows(input, i, (h, w)), filters)


def unfold_grad_input(grad_output: Tensor, filters: Tensor) -> Tensor:
    """Adjoint of :func:`unfold_forward` in ``input``."""
    b, h, w, i, _ = filters.shape
    cols = torch.einsum('bchw,bhwij->bcijhw', grad_output, filters)
    return F.fold(cols.reshape(b, -1, h * w), (h + i - 1, w + i - 1), i)


def unfold_grad_filters(grad_output: Tensor, input: Tensor) -> Tensor:
    """Adjoint of :func:`unfold_forward` in ``filters``."""
    h, w = grad_output.shape[-2:]
    taps = input.shape[-1] - w + 1
    return torch.einsum('bchw,bcijhw->bhwij', grad_output, _windows(input, taps, (h, w)))


def check_stand_in(cpp: types.ModuleType) -> Dict[str, float]:
    """Max |stand-in - authors' C++| of the three functions on a float64 case."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 15, 17, generator=gen, dtype=torch.float64)
    f = torch.randn(2, 9, 11, 7, 7, generator=gen, dtype=torch.float64)
    g = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64)
    pairs = dict(forward=(cpp.forward(x, f), unfold_forward(x, f)),
                 grad_input=(cpp.grad_input(g, f), unfold_grad_input(g, f)),
                 grad_filters=(cpp.grad_filters(g, x), unfold_grad_filters(g, x)))
    return {k: float((a - b).abs().max() / a.abs().max()) for k, (a, b) in pairs.items()}


def import_official(repo: str, stand_in: types.ModuleType) -> types.ModuleType:
    """Import their ``featup.train_jbu_upsampler`` with the stand-in C++ op bound."""
    sys.modules['adaptive_conv_cuda_impl'] = types.ModuleType('adaptive_conv_cuda_impl')  # CUDA
    sys.modules['adaptive_conv_cpp_impl'] = stand_in
    sys.path.insert(0, repo)
    import featup.train_jbu_upsampler as official  # noqa: E402
    assert os.path.abspath(official.__file__).startswith(os.path.abspath(repo))
    return official


# ----------------------------------------------------------------------------------------------
# The harness: fixed randomness, Lightning stand-ins
# ----------------------------------------------------------------------------------------------

class RecordedDropout(nn.Module):
    """Dropout (element-wise, or whole channels of dim 1 for ``Dropout2d``) whose
    Bernoulli keep-masks are drawn from ``generator`` and appended to ``masks``."""

    def __init__(self, p: float, channelwise: bool, generator: torch.Generator) -> None:
        super().__init__()
        self.p, self.channelwise, self.generator = p, channelwise, generator
        self.masks: List[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape[:2] if self.channelwise else x.shape
        keep = _RAND(shape, generator=self.generator, dtype=torch.float64) >= self.p
        self.masks.append(keep)
        mask = keep.view(*shape, *[1] * (x.dim() - len(shape))) if self.channelwise else keep
        return x * mask.to(x.dtype) / (1 - self.p)


def replace_dropouts(module: nn.Module, generator: torch.Generator) -> Dict[str, RecordedDropout]:
    """Swap every ``nn.Dropout`` / ``nn.Dropout2d`` of ``module`` for a :class:`RecordedDropout`."""
    found = {}
    for name, child in list(module.named_modules()):
        if isinstance(child, (nn.Dropout, nn.Dropout2d)):
            parent_name, _, attr = name.rpartition('.')
            parent = module.get_submodule(parent_name) if parent_name else module
            found[name] = RecordedDropout(child.p, isinstance(child, nn.Dropout2d), generator)
            setattr(parent, attr, found[name])
    return found


class RandomTape:
    """Record the outputs of ``torch.rand/randn/randint`` (they still draw)."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []
        self._saved: Dict[str, Callable] = {}

    def __enter__(self) -> 'RandomTape':
        for name in ('rand', 'randn', 'randint'):
            original = getattr(torch, name)
            self._saved[name] = original

            def recording(*args: Any, _name: str = name, _f: Callable = original,
                          **kwargs: Any) -> Tensor:
                out = _f(*args, **kwargs)
                self.calls.append((_name, out.clone()))
                return out
            setattr(torch, name, recording)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, original in self._saved.items():
            setattr(torch, name, original)


class GradientRecorder:
    """What ``self.optimizers()`` returns: ``step()`` stores the gradients."""

    def __init__(self, named: Dict[str, nn.Parameter]) -> None:
        self.named = named
        self.grads: Optional[Dict[str, Tensor]] = None

    def zero_grad(self) -> None:
        for p in self.named.values():
            p.grad = None

    def step(self) -> None:
        self.grads = {k: p.grad.detach().clone() for k, p in self.named.items()}


class Featurizer(nn.Module):
    """The deterministic stand-in backbone: one strided conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, CHANNELS, STRIDE, stride=STRIDE)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


def perturbed_fp16_(module: nn.Module, gen: torch.Generator) -> None:
    """init -> 2 * init + 0.2 * noise, rounded to float16 values (float64 storage)."""
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float64)
            param.copy_((2 * param.double() + 0.2 * noise).half().double())


def images01(size: tuple) -> Tensor:
    """Two skimage photos (chelsea, astronaut), area-resized, float16 values in [0, 1]."""
    from skimage import data
    photos = [torch.from_numpy(im()).permute(2, 0, 1).double()[None] / 255
              for im in (data.chelsea, data.astronaut)]
    return torch.cat([F.interpolate(p, size=size, mode='area') for p in photos]).half()


def their_view(official: types.ModuleType, view: tuple) -> Dict[str, Tensor]:
    """A view in the format of their ``sample_transform``."""
    flip, zoom, x, y = view
    return dict(x=torch.tensor(x), y=torch.tensor(y), zoom=torch.tensor(zoom),
                flip=torch.tensor(flip))


def packbits(mask: Tensor) -> Tensor:
    return torch.from_numpy(np.packbits(mask.flatten().numpy()))


def case_golden(official: types.ModuleType, name: str) -> Dict[str, Any]:
    downsampler, size, views = CASES[name]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    featurizer = Featurizer()
    perturbed_fp16_(featurizer, gen)
    official.get_featurizer = lambda *args, **kwargs: (featurizer, STRIDE, CHANNELS)
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # AttentionDownsampler.__init__
    try:
        model = official.JBUFeatUp(
            model_type='stand-in', activation_type='token', n_jitters=len(views),
            max_pad=MAX_PAD, max_zoom=MAX_ZOOM, kernel_size=STRIDE,
            final_size=size[0] // STRIDE, lr=1e-3, random_projection=PROJ_DIM,
            predicted_uncertainty=True, crf_weight=CRF_WEIGHT, filter_ent_weight=0.0,
            tv_weight=TV_WEIGHT, upsampler='jbu_stack', downsampler=downsampler,
            chkpt_dir='unused.ckpt')
    finally:
        torch.Tensor.cuda = cuda
    for part in (model.upsampler, model.downsampler, model.scale_net):
        perturbed_fp16_(part, gen)
    model = model.double().train()
    trained = {f'{part}.{k}': p for part in ('upsampler', 'downsampler', 'scale_net')
               for k, p in getattr(model, part).named_parameters()}
    state = {k: p.detach().half() for k, p in trained.items()}
    dropouts = replace_dropouts(model, torch.Generator().manual_seed(2))

    # Lightning stand-ins (see the module docstring)
    recorder = GradientRecorder(trained)
    model.optimizers = lambda *args, **kwargs: recorder
    model.manual_backward = lambda loss, *args, **kwargs: loss.backward()
    model.log = lambda *args, **kwargs: None
    model.trainer = types.SimpleNamespace(global_step=10)  # (Lightning's setter)
    assert model.global_step == 10
    fixed = iter([their_view(official, v) for v in views])
    official.sample_transform = lambda *args, **kwargs: next(fixed)

    img01 = images01(size)
    img = official.norm(img01.double())  # their transform: ToTensor, then norm
    torch.manual_seed(3)
    with RandomTape() as tape:
        model.training_step((img, None), 0)
    draws = [(n, t.shape) for n, t in tape.calls]
    randn = [t for n, t in tape.calls if n == 'randn']
    rand = [t for n, t in tape.calls if n == 'rand']
    randint = [t for n, t in tape.calls if n == 'randint']
    assert len(randn) == len(views) and len(randint) == 2, draws
    assert len(rand) == (len(views) if downsampler == 'attention' else 0), draws
    losses = {k: float(model.avg.metrics[f'loss/{k}'][-1]) for k in ('rec', 'crf', 'tv', 'total')}
    masks = {}
    for key, module in dropouts.items():
        assert len(module.masks) == len(views), (key, len(module.masks))
        masks[key] = ([packbits(m) for m in module.masks] if not module.channelwise
                      else torch.stack(module.masks))
    return dict(
        kind='FeatUp JBU training_step', case=name,
        official=dict(repo=FEATUP_REPO, commit=FEATUP_COMMIT,
                      module='featup/train_jbu_upsampler.py:JBUFeatUp.training_step'),
        config=dict(channels=CHANNELS, stride=STRIDE, kernel_size=STRIDE, downsampler=downsampler,
                    n_jitters=len(views), max_pad=MAX_PAD, max_zoom=MAX_ZOOM, proj_dim=PROJ_DIM,
                    crf_weight=CRF_WEIGHT, tv_weight=TV_WEIGHT, filter_ent_weight=0.0,
                    crf_samples=model.crf.n_samples,
                    mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        images01=img01,
        featurizer={k: v.half() for k, v in featurizer.state_dict().items()},
        channel_norm={k: v.half() for k, v in model.model[1].state_dict().items()},
        state_dict=state,
        views=[dict(flip=f, zoom=z, x=x, y=y) for f, z, x, y in views],
        projections=torch.stack(randn),  # raw randn [n_jitters, B, C, D], before their /norm
        window_keep=(torch.stack([r.squeeze(-1) > 0.2 for r in rand]) if rand else None),
        crf_coords=torch.cat(randint).to(torch.int16),  # [2, n_samples]: rows, columns
        dropout_masks=masks,
        losses=losses,  # their RollingAvg entries: sums over the views, float64
        grad_names=list(recorder.grads),  # every trained parameter, flattened in this order
        grads=torch.cat([g.flatten() for g in recorder.grads.values()]),  # float64
    )


def jitter_check(official: types.ModuleType, img01: Tensor) -> Dict[str, Any]:
    """Their ``apply_jitter`` of one image channel for a view of the step (zoomed padded size
    an integer) and for one whose zoomed padded size is fractional."""
    out = dict(max_pad=MAX_PAD, images01=img01)
    for key, view in (('integer', VIEWS[0]), ('fractional', JITTER_CHECK_VIEW)):
        flip, zoom, x, y = view
        out[key] = dict(view=dict(flip=flip, zoom=zoom, x=x, y=y),
                        out_float64=official.apply_jitter(img01.double(), MAX_PAD,
                                                          their_view(official, view)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--mirror', required=True, help='git dir of mhamilton723/FeatUp')
    parser.add_argument('--workdir', default='/tmp/official/FeatUp',
                        help='where their files are extracted and their C++ op is built')
    parser.add_argument('--out', default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    repo = extract(args.mirror, FEATUP_COMMIT, args.workdir)
    cpp = build_cpp_op(repo, os.path.join(args.workdir, 'build'))
    check = check_stand_in(cpp)
    print('stand-in vs their C++ adaptive conv (max rel diff):', check)
    assert max(check.values()) < 1e-13, check
    stand_in = types.SimpleNamespace(forward=unfold_forward, grad_input=unfold_grad_input,
                                     grad_filters=unfold_grad_filters)
    official = import_official(repo, stand_in)
    torch.set_default_dtype(torch.float64)  # their randn / linspace / tensors in float64
    random.seed(0)
    golden = {name: case_golden(official, name) for name in CASES}
    golden['jitter_check'] = jitter_check(official, golden['attention']['images01'][:1, :1].clone())
    golden['adaptive_conv_check'] = check
    for name in CASES:
        print(name, golden[name]['losses'])
    save_goldens(args.out, featup_step_official=golden)


if __name__ == '__main__':
    main()
