"""Generate the SAPA / FADE golden tensors from the AUTHORS' code (run once, by hand).

Nothing here is mmfeatup code: the modules run are the official ones, imported
from checkouts OUTSIDE this repository (see sapa_fade_README.md in this folder for the exact
command and commits). What this script adds is only the harness:

* SAPA (github.com/poppinace/sapa): ``SAPA.py``'s ``SAPA`` module, whose ``sim``
  and ``atn`` ops are CUDA-only. Without a GPU they are bound to the authors' own
  pure-PyTorch references ``sim_`` / ``atn_`` from ``sapa/sapa/forward_check.py``
  (the functions their script checks the CUDA kernels against; zero-padded
  ``F.unfold`` windows, as the kernels' out-of-map branches compute).
* FADE (github.com/poppinace/fade): ``pytorch_implementation/FADE_L2H.py`` (their
  pure-PyTorch version of ``FADE_L2H.py``, which needs mmcv's CUDA ``carafe``),
  classes ``FADE``, ``FADELite`` and ``SemiShiftUp``; needs ``einops``.

Parameters are the official init, then perturbed (so biases and norms are not
trivially 0/1) and rounded to float16, inputs are float16 too: both are stored as
float16 and are exact in float32 and float64. Outputs are stored from float64 and
float32 runs of the official modules.
"""
from __future__ import annotations

import argparse
import os
import sys
import types

import torch

SAPA_COMMIT = '5530ef8b727f1a06d68c9066f6bda8d7da8c1d5d'  # the checkouts this was run on
FADE_COMMIT = 'e4de4dbc85304d659807656fc909207282b1bc25'
SOURCE = (5, 7)  # non-square and odd: every 5x5 window row/col touches a border but one
SCALE = 2
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import load_module, save_goldens  # noqa: E402


def perturbed_fp16_(module: torch.nn.Module, gen: torch.Generator) -> None:
    """official init -> 2 * init + 0.2 * noise, rounded to float16 values."""
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float64)
            param.copy_((2 * param.double() + 0.2 * noise).half().double())


def fp16_randn(gen: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64).half()


def run(module: torch.nn.Module, args, dtype: torch.dtype) -> torch.Tensor:
    module = module.to(dtype).eval()
    with torch.no_grad():
        return module(*(a.to(dtype) for a in args)).to(dtype)


def sapa_golden(repo: str) -> dict:
    # SAPA.py does `from sapa import sim, atn` (the compiled ops); forward_check.py does
    # `from sapa_func import sim, atn`: give both names, then bind the references.
    sys.modules['sapa_func'] = types.SimpleNamespace(sim=None, atn=None)
    check = load_module('sapa_forward_check',
                        os.path.join(repo, 'sapa', 'sapa', 'forward_check.py'))
    sys.modules['sapa'] = types.SimpleNamespace(sim=check.sim_, atn=check.atn_)
    official = load_module('official_sapa', os.path.join(repo, 'SAPA.py'))
    torch.manual_seed(0)
    dim_y, dim_x = 5, 3  # guidance (encoder) and source (decoder) channels
    model = official.SAPA(dim_y, dim_x)  # defaults: up_factor=2, k_up=5, E=64, qkv_bias
    gen = torch.Generator().manual_seed(1)
    perturbed_fp16_(model, gen)
    x = fp16_randn(gen, 1, dim_x, *SOURCE)  # source
    y = fp16_randn(gen, 1, dim_y, SOURCE[0] * SCALE, SOURCE[1] * SCALE)  # guidance
    state = {k: v.half() for k, v in model.state_dict().items()}
    return dict(kind='SAPA', official=dict(repo='https://github.com/poppinace/sapa',
                                           commit=SAPA_COMMIT, module='SAPA.py:SAPA(5, 3)'),
                config=dict(in_channels=dim_x, guidance_channels=dim_y),
                state_dict=state, source=x, guidance=y,
                out_float64=run(model, (y, x), torch.float64),
                out_float32=run(model, (y, x), torch.float32))


def fade_golden(repo: str) -> dict:
    official = load_module('official_fade',
                           os.path.join(repo, 'pytorch_implementation', 'FADE_L2H.py'))
    channels = 4  # FADE blends the encoder map into the output: en and de channels agree
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(0)
    fade = official.FADE(channels)  # defaults: scale=2, up_kernel_size=5, embedding_dim=64
    perturbed_fp16_(fade, gen)
    torch.manual_seed(0)
    lite = official.FADELite(channels)
    perturbed_fp16_(lite, gen)
    semishift = official.SemiShiftUp(channels)
    semishift_state = {k: v for k, v in fade.state_dict().items()
                       if k.startswith('ker_generator.')}  # FADE's kernel generator, no gate
    semishift.load_state_dict(semishift_state, strict=True)
    de = fp16_randn(gen, 1, channels, *SOURCE)  # source
    en = fp16_randn(gen, 1, channels, SOURCE[0] * SCALE, SOURCE[1] * SCALE)  # guidance
    out = dict(kind='FADE', official=dict(repo='https://github.com/poppinace/fade',
                                          commit=FADE_COMMIT,
                                          module='pytorch_implementation/FADE_L2H.py'),
               config=dict(in_channels=channels, guidance_channels=channels),
               source=de, guidance=en)
    for name, model in (('FADE', fade), ('FADELite', lite), ('SemiShiftUp', semishift)):
        out[name] = dict(state_dict={k: v.half() for k, v in model.state_dict().items()},
                         out_float64=run(model, (en, de), torch.float64),
                         out_float32=run(model, (en, de), torch.float32))
    del out['SemiShiftUp']['state_dict']  # = FADE's ker_generator.* (saves 28 KB)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sapa-repo', required=True, help='work tree of poppinace/sapa')
    parser.add_argument('--fade-repo', required=True, help='work tree of poppinace/fade')
    parser.add_argument('--out', default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    save_goldens(args.out, sapa_official=sapa_golden(args.sapa_repo),
                 fade_official=fade_golden(args.fade_repo))

if __name__ == '__main__':
    main()
