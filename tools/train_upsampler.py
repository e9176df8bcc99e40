"""Train a feature upsampler with FeatUp's multi-view reconstruction (mmengine Runner).

Usage::

    python tools/train_upsampler.py CONFIG [--work-dir DIR] [--resume [CKPT]]
        [--cfg-options key=value ...] [--launcher none|pytorch|slurm|mpi]

Multi-process like MMSegmentation's ``dist_train.sh`` (NCCL on GPUs, gloo on
CPUs, see :func:`mmfeatup.engine.configure_device`)::

    python -m torch.distributed.run --nproc_per_node=2 \
        tools/train_upsampler.py CONFIG --launcher pytorch

The training itself is :func:`mmfeatup.engine.cli.train_from_args`.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``: None for ``sys.argv``)."""
    from mmfeatup.engine.cli import parse_runner_args, runner_parser
    parser = runner_parser('Train a FeatUp upsampler', 'train config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest '
                        'checkpoint of the work dir when no path is given')
    return parse_runner_args(parser, argv)


if __name__ == '__main__':
    from mmfeatup.engine.cli import train_from_args
    train_from_args(parse_args())
