"""Test (evaluate) a segmentor checkpoint with mmengine's Runner (MMSegmentation style).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--tta]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [args]
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', type=str, help='dir to save the predicted label maps')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='dir to save painted images (relative paths are '
                        'taken inside the work dir)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value (dotted keys)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args) -> None:
    """Turn on mmseg's SegVisualizationHook for --show / --show-dir."""
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise RuntimeError('--show/--show-dir need default_hooks.visualization '
                           '(SegVisualizationHook) in the config')
    hook = default_hooks['visualization']
    hook['draw'] = True
    hook['interval'] = 1  # paint every test image, not every 50th
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        visualizer = cfg.visualizer
        visualizer['save_dir'] = (args.show_dir if osp.isabs(args.show_dir) else
                                  osp.join(cfg.work_dir, args.show_dir))


def main() -> None:
    args = parse_args()
    from mmengine.runner import Runner

    from mmfeatup.compat import allow_full_checkpoint_loading
    from mmfeatup.engine import configure_device, load_config

    allow_full_checkpoint_loading()
    cfg = load_config(args.config, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError('--tta needs tta_model and tta_pipeline in the config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    configure_device(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
