"""The README's first command: dataset -> train -> evaluate -> picture, on CPU in minutes.

    python tools/demo.py [--data-root data/ade_demo] [--work-dir work_dirs/demo] [--iters N]

1. builds the bundled ADE20K-format demo dataset from real photographs if it is missing
   (``tools/dataset_converters/make_demo_dataset.py``);
2. trains the ImageNet EfficientNet-Lite0 backbone (offline weights) + a FeatUp neck with the
   shipped FeatUp-pretrained JBU (its stages kept as trained) + SegformerHead on it
   (``configs/demo/effnet-lite0_jbu-featup-frozen_ade-demo-128x128.py``), with a progress bar
   (``--config configs/demo/segformer_mit-b0_jbu_ade-demo-128x128.py``: SegFormer-B0 and the
   JBU from scratch);
3. evaluates on the validation split (aAcc, mIoU, mAcc: mmseg's IoUMetric);
4. writes a PNG of image / prediction / ground truth for a few validation samples
   and prints where everything went.
"""
import argparse
import os
import os.path as osp
import sys
import warnings

DEFAULT_CONFIG = 'configs/demo/effnet-lite0_jbu-featup-frozen_ade-demo-128x128.py'
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mmfeatup end-to-end segmentation demo')
    parser.add_argument('--config', default=osp.join(ROOT, DEFAULT_CONFIG))
    parser.add_argument('--data-root', default='data/ade_demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, default=None,
                        help='training iterations (default: the config\'s max_iters)')
    parser.add_argument('--num-vis', type=int, default=4,
                        help='validation samples drawn in the PNG')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='extra key=value config overrides')
    return parser.parse_args()


def ensure_dataset(data_root: str) -> None:
    """Generate the demo dataset unless a complete one is already there."""
    from mmfeatup.benchmark import Stopwatch
    from mmfeatup.datasets.ade_demo import ensure_ade_demo

    def progress(done: int, total: int) -> None:
        sys.stdout.write(f'\r[1/4] dataset: writing {data_root} {done}/{total}')
        sys.stdout.flush()

    with Stopwatch() as watch:
        _, built = ensure_ade_demo(data_root, progress=progress)
    print(f' ({watch.seconds:.0f}s)' if built else f'[1/4] dataset: {data_root} (already there)')


def build_config(args: argparse.Namespace):
    """The demo config with the command line's paths and iterations applied."""
    from mmengine.config import DictAction

    from mmfeatup.engine import configure_device, load_config
    from mmfeatup.engine.quick_schedule import quick_schedule

    options = {}
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        options = parser.parse_args(['--o', *args.cfg_options]).o
    cfg = load_config(args.config, options)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = args.data_root
    # evaluate once, explicitly, after training (no validation in the loop); checkpoint at the end
    quick_schedule(cfg, cfg.train_cfg.max_iters if args.iters is None else args.iters)
    cfg.work_dir = args.work_dir
    cfg.log_level = 'ERROR'
    configure_device(cfg, 'none')
    return cfg


def draw_predictions(runner, num: int, out_file: str) -> None:
    """Save rows of image | prediction | ground truth for ``num`` validation samples."""
    import cv2
    import numpy as np
    import torch

    dataset = runner.val_dataloader.dataset
    palette = np.asarray(dataset.metainfo['palette'], np.uint8)
    model = runner.model
    model.eval()
    rows = []
    step = max(len(dataset) // max(num, 1), 1)
    for index in list(range(0, len(dataset), step))[:num]:
        item = dataset[index]
        with torch.no_grad():
            pred = model.test_step(dict(inputs=[item['inputs']],
                                        data_samples=[item['data_samples']]))[0]
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # BGR -> RGB
        label = pred.pred_sem_seg.data[0].cpu().numpy()
        truth = item['data_samples'].gt_sem_seg.data[0].numpy()

        def colour(seg: 'np.ndarray') -> 'np.ndarray':
            out = palette[np.clip(seg, 0, len(palette) - 1)]
            out[seg == 255] = 0  # ignored pixels in black
            return out

        rows.append(np.concatenate([image, colour(label), colour(truth)], axis=1))
    grid = np.concatenate(rows, axis=0)
    grid = cv2.resize(grid, (grid.shape[1] * 2, grid.shape[0] * 2),
                      interpolation=cv2.INTER_NEAREST)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    third = grid.shape[1] // 3
    for col, text in enumerate(('image', 'prediction', 'ground truth')):
        cv2.putText(header, text, (col * third + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 0, 0), 1, cv2.LINE_AA)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, np.concatenate([header, grid], axis=0)[..., ::-1])


def main() -> None:
    args = parse_args()
    from mmfeatup.benchmark import Stopwatch
    watch = Stopwatch()
    # keep the terminal to the progress display: mmseg/mmengine deprecation notices are noise here
    warnings.filterwarnings('ignore', category=UserWarning)
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    ensure_dataset(args.data_root)

    from mmengine.runner import Runner

    cfg = build_config(args)
    neck = cfg.model.get('neck') or {}
    parts = [cfg.model.backbone.type, neck.get('type', 'no neck'), cfg.model.decode_head.type]
    if neck.get('upsampler'):
        parts[1] += f' ({neck.upsampler.type})'
    print(f'[2/4] building {" + ".join(parts)} from {osp.relpath(args.config, ROOT)} ...',
          flush=True)
    runner = Runner.from_cfg(cfg)
    print(f'[2/4] training {cfg.train_cfg.max_iters} iterations, batch '
          f'{cfg.train_dataloader.batch_size}, crops {tuple(cfg.crop_size)}', flush=True)
    with Stopwatch() as training:
        runner.train()

    print('[3/4] evaluating on the validation split ...', flush=True)
    metrics = runner.val()
    png = osp.join(args.work_dir, 'demo_predictions.png')
    print('[4/4] drawing predictions ...', flush=True)
    draw_predictions(runner, args.num_vis, png)

    checkpoint = osp.join(args.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    print('\nresults (validation split, mmseg IoUMetric, 150 ADE classes, '
          'absent-and-unpredicted classes excluded):')
    for key in ('aAcc', 'mIoU', 'mAcc'):
        print(f'  {key:5s} {metrics.get(key, float("nan")):6.2f}')
    print(f'time: {watch.seconds:.0f}s total, {training.seconds:.0f}s training')
    print('outputs:')
    print(f'  predictions PNG : {osp.abspath(png)}')
    print(f'  checkpoint      : {osp.abspath(checkpoint)}')
    print(f'  logs            : {osp.abspath(runner.log_dir)}')
    print(f'  dataset         : {osp.abspath(args.data_root)}')


if __name__ == '__main__':
    main()
