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
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a FeatUp upsampler')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest '
                        'checkpoint of the work dir when no path is given')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    from mmfeatup.compat import allow_full_checkpoint_loading
    from mmfeatup.engine import configure_device, load_config
    allow_full_checkpoint_loading()
    import mmfeatup.datasets  # noqa: F401  (registers ImageFolderDataset)
    import mmfeatup.models  # noqa: F401  (registers models, metric)

    cfg = load_config(args.config, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    configure_device(cfg, args.launcher)  # gloo + device_ids=None on CPUs
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
