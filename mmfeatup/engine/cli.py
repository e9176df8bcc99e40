"""Command-line plumbing shared by ``tools/train.py``, ``tools/test.py`` and
``tools/train_upsampler.py`` (MMSegmentation's tool conventions): their common arguments,
the config they run, and :func:`train_from_args`, the one training entry of both train
tools."""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from typing import Any, Callable, Optional, Sequence, Tuple, Type

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


def runner_parser(description: str, config_help: str) -> argparse.ArgumentParser:
    """A tool's parser: the positional ``config`` and :func:`add_runner_args`'s options.

    Args:
        description (str): what the tool does.
        config_help (str): the help of ``config``.

    Returns:
        argparse.ArgumentParser: the parser; the tool adds its own arguments.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help=config_help)
    return add_runner_args(parser)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
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


def run_runner(cfg: Config, launcher: str, mode: str) -> Any:
    """Set the device up, build mmengine's ``Runner`` and run ``runner.train()`` or ``.test()``.

    Args:
        cfg (Config): the run config.
        launcher (str): ``--launcher`` (:func:`mmfeatup.engine.configure_device`: NCCL and
            SyncBN on GPUs; gloo, ``device_ids=None`` and BN on CPUs).
        mode (str): ``'train'`` or ``'test'``.

    Returns:
        Any: what the runner's method returns (the model, or the test metrics).
    """
    from mmengine.runner import Runner

    from .device import close_distributed, configure_device
    configure_device(cfg, launcher)
    runner = Runner.from_cfg(cfg)
    result = getattr(runner, mode)()
    close_distributed()  # a finished gloo DDP run could abort at interpreter shutdown
    return result


def train_from_args(args: argparse.Namespace) -> None:
    """The one training entry of ``tools/train.py`` and ``tools/train_upsampler.py``.

    Args:
        args (argparse.Namespace): parsed with :func:`runner_parser`, plus the tool's
            ``--resume``: a switch (``tools/train.py``: ``cfg.resume`` is set to it, the
            checkpoint is ``load_from`` or the work dir's latest) or an optional path
            (``tools/train_upsampler.py``: ``'auto'`` for the work dir's latest checkpoint,
            None to keep the config's setting), and ``--amp`` where the tool has it.
    """
    import mmfeatup.datasets  # noqa: F401  (registers the datasets)
    import mmfeatup.models  # noqa: F401  (registers the models and metrics)
    from .device import apply_amp

    cfg = config_from_args(args)
    if getattr(args, 'amp', False):
        apply_amp(cfg)
    resume = getattr(args, 'resume', None)
    if isinstance(resume, bool):
        cfg.resume = resume
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = None if resume == 'auto' else resume
    run_runner(cfg, args.launcher, 'train')


def exit_on_error(main: Callable[[], Any], errors: Tuple[Type[BaseException], ...]) -> Any:
    """Run a tool's ``main``: an expected error ends it with ``error: MESSAGE``, no traceback.

    Args:
        main (callable): the tool's entry, no arguments.
        errors (tuple[type, ...]): the exceptions that are the user's to fix (a missing
            file, a bad value).

    Returns:
        Any: what ``main`` returns.

    Raises:
        SystemExit: with ``error: MESSAGE`` (exit status 1) on one of ``errors``.
    """
    try:
        return main()
    except errors as error:
        sys.exit(f'error: {error}')
