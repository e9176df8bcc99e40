"""Train a segmentor with mmengine's Runner (MMSegmentation style).

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_PROCS [args]       # torchrun, --launcher pytorch

Devices are handled for you (mmfeatup.engine.configure_device): NCCL + SyncBN on
GPUs; on CPUs gloo, ``device_ids=None`` and BN instead of SyncBN. ``--amp`` needs a GPU.
"""
import argparse


def parse_args() -> argparse.Namespace:
    from mmfeatup.engine.cli import add_runner_args, parse_runner_args
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', action='store_true', default=False,
                        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training (GPU only)')
    return parse_runner_args(add_runner_args(parser))


def main() -> None:
    args = parse_args()
    from mmengine.runner import Runner

    from mmfeatup.engine import apply_amp, close_distributed, configure_device
    from mmfeatup.engine.cli import config_from_args

    cfg = config_from_args(args)
    if args.amp:
        apply_amp(cfg)
    cfg.resume = args.resume
    configure_device(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    close_distributed()


if __name__ == '__main__':
    main()
