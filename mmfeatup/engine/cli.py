"""Command-line plumbing shared by ``tools/train.py``, ``tools/test.py`` and
``tools/train_upsampler.py`` (MMSegmentation's tool conventions)."""
from __future__ import annotations

import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

#: Hooks the tools add to every run whose config lacks them.
SAFETY_HOOKS = ('ExactResumeHook', 'CheckpointKeysHook')


def add_custom_hooks(cfg: Config, types: Sequence[str]) -> Config:
    """Append ``dict(type=T)`` to ``cfg.custom_hooks`` for each ``T`` not yet there (in place).

    Args:
        cfg (Config): the run config.
        types (Sequence[str]): hook type names (registered in mmseg's ``HOOKS``).

    Returns:
        Config: ``cfg``.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    present = {hook.get('type') for hook in hooks}
    hooks += [dict(type=name) for name in types if name not in present]
    cfg.custom_hooks = hooks
    return cfg


def add_runner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local-rank``.

    Args:
        parser (argparse.ArgumentParser): the tool's parser (its positional
            ``config`` argument is added by the tool).

    Returns:
        argparse.ArgumentParser: the same parser.
    """
    parser.add_argument('--work-dir', help='the dir to save logs, checkpoints and metrics')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value (dotted keys)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[list] = None) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that only pass ``--local-rank``."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    """Load ``args.config`` with ``--cfg-options`` and settle the work dir.

    Adds :data:`SAFETY_HOOKS` to ``custom_hooks`` where the config lacks them
    (exact resume, refusal of a checkpoint that fits nothing).

    Args:
        args (argparse.Namespace): parsed with :func:`add_runner_args`.

    Returns:
        Config: the config, ``work_dir`` set from ``--work-dir``, the config, or
        ``./work_dirs/<config name>``.
    """
    from .config_loading import load_config

    cfg = load_config(args.config, args.cfg_options)
    add_custom_hooks(cfg, SAFETY_HOOKS)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
