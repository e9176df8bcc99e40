"""Train a segmentor with mmengine's Runner (MMSegmentation style).

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_PROCS [args]       # torchrun, --launcher pytorch

Devices are handled for you (mmfeatup.engine.configure_device): NCCL + SyncBN on
GPUs; on CPUs gloo, ``device_ids=None`` and BN instead of SyncBN. ``--amp`` needs a GPU.
The training itself is :func:`mmfeatup.engine.cli.train_from_args`.
"""
import argparse
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``: None for ``sys.argv``)."""
    from mmfeatup.engine.cli import parse_runner_args, runner_parser
    parser = runner_parser('Train a segmentor', 'train config file path')
    parser.add_argument('--resume', action='store_true', default=False,
                        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training (GPU only)')
    return parse_runner_args(parser, argv)


if __name__ == '__main__':
    from mmfeatup.engine.cli import train_from_args
    train_from_args(parse_args())
