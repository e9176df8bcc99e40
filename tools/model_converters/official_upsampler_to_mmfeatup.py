"""Convert upsampler weights from the authors' code (or an older mmfeatup) to mmfeatup's layout.

One subcommand per source; each writes what the mmfeatup module loads with ``strict=True``:

* ``sapa``: github.com/poppinace/sapa (``SAPA.py``) -> ``SAPA``;
* ``fade``: github.com/poppinace/fade (``FADE_L2H.py``: ``FADE``, ``FADELite``,
  ``SemiShiftUp``) -> ``FADE`` / ``FADELite`` (``FADE(gate=False)`` for SemiShiftUp);
* ``ifa``: github.com/hzhupku/IFA, a single-level ``ifa_simfpn`` (``{'model_state': ...}``,
  ``module.`` stripped) -> ``IFA``; ``pos{level}.emb`` becomes ``pos.emb``. A four-level MLP
  cannot be split into one level exactly and is refused (size mismatch);
* ``dysample-legacy``: a checkpoint saved by mmfeatup before DySample followed the official
  channel order (``(group, xy, subpixel)`` offsets, no ``init_pos``) -> the official layout
  of tiny-smart/dysample; the whole checkpoint is written back, other keys unchanged.
  Official DySample checkpoints need no conversion.

``--prefix`` selects the module's keys inside a bigger checkpoint (e.g.
``decode_head.upsamplers.0.``). Files are loaded weights-only
(:func:`mmfeatup.utils.read_checkpoint`).

Examples::

    python tools/model_converters/official_upsampler_to_mmfeatup.py sapa \
        segformer_sapa.pth work_dirs/sapa0.pth --prefix decode_head.upsamplers.0.
    python tools/model_converters/official_upsampler_to_mmfeatup.py ifa \
        ifa_single_level.pth work_dirs/ifa.pth --in-channels 256 --prefix decoder.ifa.
    python tools/model_converters/official_upsampler_to_mmfeatup.py dysample-legacy \
        old.pth new.pth --prefix neck.upsampler. --scale 2 --groups 4
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Dict, Mapping, Optional, Sequence

import torch

_DYSAMPLE_KEYS = ('offset.weight', 'offset.bias', 'scope.weight', 'init_pos')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='arch', required=True)
    for arch, help_text in (('sapa', 'SAPA'), ('fade', 'FADE / FADELite / SemiShiftUp'),
                            ('ifa', 'single-level IFA'),
                            ('dysample-legacy', "mmfeatup's pre-parity DySample")):
        command = sub.add_parser(arch, help=help_text)
        command.add_argument('src', help='the checkpoint or state dict to convert')
        command.add_argument('dst', help='output file')
        command.add_argument('--prefix', default='', help="prefix of the module's keys")
        if arch == 'ifa':
            command.add_argument('--in-channels', type=int, required=True,
                                 help='source channels C')
            command.add_argument('--level', type=int, default=1,
                                 help='which pos{level}.emb to keep')
        if arch == 'dysample-legacy':
            command.add_argument('--scale', type=int, default=2, help='scale_factor')
            command.add_argument('--groups', type=int, default=4, help='groups')
    return parser.parse_args(argv)


def weights_of(checkpoint: Mapping[str, Any]) -> Dict[str, Any]:
    """The weights of a checkpoint (``state_dict`` / ``model_state``), ``module.`` stripped."""
    for field in ('state_dict', 'model_state'):
        if isinstance(checkpoint.get(field), Mapping):
            checkpoint = checkpoint[field]
            break
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in checkpoint.items()}


def select(state: Mapping[str, Any], prefix: str) -> Dict[str, Any]:
    """The entries under ``prefix``, the prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def convert_ifa(state: Dict[str, Any], args: argparse.Namespace) -> Dict[str, torch.Tensor]:
    from mmfeatup.models.upsamplers.ifa import IFAUpsampler, convert_ifa_official_state_dict
    state = convert_ifa_official_state_dict(select(state, args.prefix), level=args.level)
    emb = state.get('pos.emb')
    pos_dim = 2 * emb.shape[0] if emb is not None else 24
    convs = sorted((k for k in state if k.startswith('imnet.') and k.endswith('.weight')
                    and state[k].dim() == 3), key=lambda k: int(k.split('.')[1]))
    widths = [state[k].shape[0] for k in convs][:-1]
    model = IFAUpsampler(args.in_channels, hidden_channels=widths, pos_dim=pos_dim,
                         learnable_frequencies=emb is not None)
    model.load_state_dict(state, strict=True)  # proves it loads
    print(f'load with IFAUpsampler({args.in_channels}, hidden_channels={tuple(widths)}, '
          f'pos_dim={pos_dim})')
    return state


def convert_dysample_legacy(checkpoint: Dict[str, Any], args: argparse.Namespace) -> Dict[str, Any]:
    from mmfeatup.models.upsamplers.dysample import convert_dysample_legacy_state_dict
    nested = 'state_dict' in checkpoint
    state = dict(checkpoint['state_dict']) if nested else checkpoint
    mine = {k: v for k, v in select(state, args.prefix).items() if k in _DYSAMPLE_KEYS}
    if 'offset.weight' not in mine:
        raise ValueError(f'no {args.prefix}offset.weight in {args.src}')
    converted = convert_dysample_legacy_state_dict(mine, args.scale, args.groups)
    state.update({args.prefix + k: v for k, v in converted.items()})
    if nested:
        checkpoint['state_dict'] = state
    return checkpoint


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    from mmfeatup.models.upsamplers.fade import convert_official_fade_state_dict
    from mmfeatup.models.upsamplers.sapa import convert_official_sapa_state_dict
    from mmfeatup.utils import read_checkpoint

    checkpoint = dict(read_checkpoint(args.src))
    if args.arch == 'dysample-legacy':
        out = convert_dysample_legacy(checkpoint, args)
    elif args.arch == 'ifa':
        out = convert_ifa(weights_of(checkpoint), args)
    else:
        convert = dict(sapa=convert_official_sapa_state_dict,
                       fade=convert_official_fade_state_dict)[args.arch]
        try:
            out = convert(weights_of(checkpoint), prefix=args.prefix)
        except KeyError as error:
            raise ValueError(f'src: {error.args[0]}') from None
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    print(f'wrote {args.dst} ({args.arch})')
    return out


if __name__ == '__main__':
    from mmfeatup.engine.cli import exit_on_error
    exit_on_error(main, (FileNotFoundError, KeyError, RuntimeError, ValueError))
