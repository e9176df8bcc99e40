"""Convert the FeatUp authors' JBU checkpoints to a plain mmfeatup ``JBUStack`` state dict.

Accepts a whole Lightning checkpoint (``{'state_dict': {'upsampler.up1.range_temp': ...,
'downsampler.*', 'scale_net.*', 'model.*'}}``), a hub model's state dict, or an
already plain JBUStack state dict. Writes ``{'up1.range_temp': ..., 'fixup_proj.1.bias': ...}``
which ``JBUStack(feat_dim).load_state_dict`` accepts unchanged.

Example::

    python tools/model_converters/featup_to_mmfeatup.py \
        dino16_jbu_stack_cocostuff.ckpt work_dirs/jbu_dino16.pth

The file is loaded weights-only: a Lightning checkpoint that also pickles objects
(e.g. a config object in ``hyper_parameters``) is refused, since loading it would
construct them; re-save its ``state_dict`` as a plain file in a separate step you trust.
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Dict, Optional, Sequence

import torch


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='authors\' checkpoint (.ckpt / .pth)')
    parser.add_argument('dst', help='output file with the plain JBUStack state dict')
    parser.add_argument('--prefix', default=None,
                        help='prefix of the upsampler keys (default: try "upsampler.", '
                        '"module.upsampler.", "model.upsampler.", then none)')
    return parser.parse_args(argv)


def load_checkpoint(path: str) -> Dict[str, Any]:
    """``torch.load`` on CPU, weights-only (:func:`mmfeatup.utils.read_checkpoint`)."""
    from mmfeatup.utils import read_checkpoint
    try:
        return read_checkpoint(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f'src: {error}') from None
    except RuntimeError as error:
        raise RuntimeError(f'src: {error}') from None


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, torch.Tensor]:
    args = parse_args(argv)
    from mmfeatup.models.upsamplers import JBUStack
    from mmfeatup.utils import convert_featup_state_dict, infer_jbu_config

    checkpoint = load_checkpoint(args.src)
    state_dict = convert_featup_state_dict(checkpoint, prefix=args.prefix)
    config = infer_jbu_config(state_dict)
    JBUStack(**config).load_state_dict(state_dict, strict=True)  # proves it loads
    folder = os.path.dirname(os.path.abspath(args.dst))
    os.makedirs(folder, exist_ok=True)
    torch.save(state_dict, args.dst)
    print(f'wrote {len(state_dict)} tensors to {args.dst}; load with '
          f'JBUStack({config["feat_dim"]}) (inferred {config})')
    return state_dict


if __name__ == '__main__':
    from mmfeatup.engine.cli import exit_on_error
    exit_on_error(main, (FileNotFoundError, RuntimeError, ValueError))
