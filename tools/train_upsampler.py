"""Train a feature upsampler with FeatUp's multi-view reconstruction (mmengine Runner).

Usage::

    python tools/train_upsampler.py CONFIG [--work-dir DIR] [--resume [CKPT]]
        [--cfg-options key=value ...] [--launcher none|pytorch|slurm|mpi]

Multi-process like MMSegmentation's ``dist_train.sh`` (NCCL on GPUs, gloo on
CPUs, see :func:`mmfeatup.engine.configure_device`)::

    python -m torch.distributed.run --nproc_per_node=2 \
        tools/train_upsampler.py CONFIG --launcher pytorch
"""
from __future__ import annotations

import argparse

from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    from mmfeatup.engine.cli import add_runner_args, parse_runner_args
    parser = argparse.ArgumentParser(description='Train a FeatUp upsampler')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest '
                        'checkpoint of the work dir when no path is given')
    return parse_runner_args(add_runner_args(parser))


def main() -> None:
    args = parse_args()
    import mmfeatup.datasets  # noqa: F401  (registers ImageFolderDataset)
    import mmfeatup.models  # noqa: F401  (registers models, metric)
    from mmfeatup.engine import close_distributed, configure_device
    from mmfeatup.engine.cli import config_from_args

    cfg = config_from_args(args)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    configure_device(cfg, args.launcher)  # gloo + device_ids=None on CPUs
    runner = Runner.from_cfg(cfg)
    runner.train()
    close_distributed()


if __name__ == '__main__':
    main()
