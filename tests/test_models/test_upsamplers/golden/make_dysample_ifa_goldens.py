"""Generate the DySample / IFA golden tensors by running the AUTHORS' code (not ours).

Run once, from the repository root, with the official repositories checked out elsewhere
(never inside this repository)::

    python tests/test_models/test_upsamplers/golden/make_dysample_ifa_goldens.py \
        --dysample-root /tmp/official/dysample --ifa-root /tmp/official/IFA

Official sources used for the committed files:

* DySample: https://github.com/tiny-smart/dysample at
  81a1de5caa95d55a0f5488425fa53ec7ef47f8f0 (``dysample.py``, class ``DySample``).
* IFA: https://github.com/hzhupku/IFA at 70baac826983f03079d8603cd814ba753f0489e5
  (``pyseg/models/ifa.py`` ``ifa_simfpn``, ``pyseg/models/ifa_utils.py``).

The official files are imported unmodified. Run-time shims, applied only around the
official calls: ``Tensor.cuda`` returns the tensor itself (the official ``ifa_feat`` hard
codes ``.cuda()``; its own commented-out lines are the CPU variant), and for the float64
run ``Tensor.float`` keeps float64 (``make_coord`` hard codes ``.float()``). The one
structural change is IFA's single-level adaptation: ``imnet[0]`` is replaced by a
``Conv1d(26 + C, 512, 1)`` because the official ``in_dim`` assumes four 256-channel
levels; everything else (encoding, ``ifa_feat``, the rest of ``imnet``, forward) is the
official module's.
"""
import argparse
import contextlib
import importlib.util
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from golden_io import load_module, save_goldens  # noqa: E402
DYSAMPLE_COMMIT = '81a1de5caa95d55a0f5488425fa53ec7ef47f8f0'
IFA_COMMIT = '70baac826983f03079d8603cd814ba753f0489e5'
DYSAMPLE_VARIANTS = [  # (style, groups, dyscope, scale); the first is the official default
    ('lp', 4, False, 2), ('lp', 4, True, 2), ('pl', 4, False, 2), ('pl', 4, True, 2),
    ('lp', 2, False, 3)]
DYSAMPLE_CHANNELS, DYSAMPLE_SOURCE = 8, (3, 4)
# x2, x4, and 3x4 -> 5x6 (non-integer; output column 1 lies exactly on a source cell border,
# where the official nearest grid_sample rounds half to even), then x2 in training mode
IFA_SIZES = [((6, 8), 'eval'), ((12, 16), 'eval'), ((5, 6), 'eval'), ((6, 8), 'train')]
IFA_CHANNELS, IFA_SOURCE = 4, (3, 4)


@contextlib.contextmanager
def official_shims(dtype):
    cuda, to_float = torch.Tensor.cuda, torch.Tensor.float
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    if dtype == torch.float64:
        torch.Tensor.float = lambda self, *args, **kwargs: self.to(torch.float64)
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.Tensor.float = cuda, to_float


def make_dysample(root):
    spec = importlib.util.spec_from_file_location('official_dysample',
                                                  os.path.join(root, 'dysample.py'))
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    gen = torch.Generator().manual_seed(0)
    source64 = torch.randn(1, DYSAMPLE_CHANNELS, *DYSAMPLE_SOURCE, generator=gen,
                           dtype=torch.float64)
    cases = []
    for style, groups, dyscope, scale in DYSAMPLE_VARIANTS:
        model = official.DySample(DYSAMPLE_CHANNELS, scale=scale, style=style, groups=groups,
                                  dyscope=dyscope)
        state = {}
        for name, value in model.state_dict().items():  # larger-than-init weights
            if name != 'init_pos':
                value = torch.randn(value.shape, generator=gen, dtype=torch.float64) * 0.5
            state[name] = value.to(torch.float32)
        model.load_state_dict(state, strict=True)
        case = dict(style=style, groups=groups, dyscope=dyscope, scale=scale,
                    state_dict=state)
        for dtype in (torch.float32, torch.float64):
            ref = model.to(dtype).eval()
            with torch.no_grad(), official_shims(dtype):
                case[str(dtype)] = ref(source64.to(dtype)).clone()
        cases.append(case)
    return dict(official='https://github.com/tiny-smart/dysample', commit=DYSAMPLE_COMMIT,
                source=source64, cases=cases)


def make_ifa(root):
    sys.path.insert(0, root)
    from pyseg.models.ifa import ifa_simfpn
    recipe = load_module('golden_recipe', os.path.join(HERE, 'ifa_weight_recipe.py'))
    gen = torch.Generator().manual_seed(1)
    source64 = torch.randn(1, IFA_CHANNELS, *IFA_SOURCE, generator=gen, dtype=torch.float64)
    kwargs = dict(ultra_pe=True, pos_dim=24, sync_bn=False, num_classes=IFA_CHANNELS,
                  local=False, unfold=False, learn_pe=False, require_grad=True, num_layer=2)
    template = ifa_simfpn(**kwargs)
    template.imnet[0] = nn.Conv1d(26 + IFA_CHANNELS, 512, 1)  # single-level adaptation
    state = recipe.recipe_state_dict(template.state_dict())
    outputs = {}
    for dtype in (torch.float32, torch.float64):
        for size, mode in IFA_SIZES:
            model = ifa_simfpn(**kwargs)
            model.imnet[0] = nn.Conv1d(26 + IFA_CHANNELS, 512, 1)
            model.load_state_dict(state, strict=True)
            model = model.to(dtype).train(mode == 'train')
            with torch.no_grad(), official_shims(dtype):
                context = model(source64.to(dtype), size=list(size), level=1)
                out = model(context.permute(0, 2, 1), size=list(size), after_cat=True)
            outputs[(str(dtype), size, mode)] = out.clone()
            sha = recipe.state_sha256(model.state_dict()) if mode == 'eval' else None
            if sha is not None:
                assert sha == recipe.state_sha256(state)
    return dict(official='https://github.com/hzhupku/IFA', commit=IFA_COMMIT,
                official_kwargs=kwargs, state_keys=[(k, tuple(v.shape)) for k, v in state.items()],
                state_sha256=recipe.state_sha256(state), source=source64,
                cases=[dict(size=size, mode=mode, dtype=dtype, output=out)
                       for (dtype, size, mode), out in outputs.items()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dysample-root', required=True)
    parser.add_argument('--ifa-root', required=True)
    parser.add_argument('--out-dir', default=HERE)
    args = parser.parse_args()
    save_goldens(args.out_dir, dysample_official=make_dysample(args.dysample_root),
                 ifa_official=make_ifa(args.ifa_root))

if __name__ == '__main__':
    main()
