"""Test (evaluate) a segmentor checkpoint with mmengine's Runner (MMSegmentation style).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--tta]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [args]
"""
import argparse
import os.path as osp


def parse_args() -> argparse.Namespace:
    from mmfeatup.engine.cli import parse_runner_args, runner_parser
    parser = runner_parser('Test (and eval) a segmentor', 'test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str, help='dir to save the predicted label maps')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='dir to save painted images (relative paths are '
                        'taken inside the work dir)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    return parse_runner_args(parser)


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
    from mmfeatup.engine.cli import config_from_args, run_runner

    cfg = config_from_args(args)
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
    run_runner(cfg, args.launcher, 'test')


if __name__ == '__main__':
    main()
