"""Benchmark every registered feature upsampler: cost and quality.

For each upsampler in :data:`mmfeatup.registry.UPSAMPLERS` (or ``--only``):

* cost, per ``--sizes`` x ``--channels`` x device: parameters, FLOPs
  (mmengine's ``FlopAnalyzer``; see "FLOP convention" below), forward latency
  (eval, no grad), forward+backward latency (train mode, ``out.sum()``), peak
  memory of both (CUDA: ``max_memory_allocated``; CPU: the torch profiler's
  allocation records, op granularity), on CPU and on CUDA when present;
* quality ``recon``: FeatUp's held-out multi-view feature reconstruction with
  the frozen ImageNet EfficientNet-Lite0 (stride 16): every upsampler with
  parameters is trained with :func:`mmfeatup.apis.train_upsampler` with the
  same budget (``--iters``) for every seed in ``--seeds``, then scored with
  :func:`mmfeatup.apis.evaluate_reconstruction` on the held-out photos (the
  same views for every upsampler); parameter-free ones are scored once;
* quality ``seg``: end-to-end segmentation on the bundled demo dataset with
  ``--seg-config`` (default: the demo data with the ImageNet EfficientNet-Lite0
  backbone), the neck's upsampler replaced by ``type=NAME``, ``--seg-iters``
  iterations per seed, mIoU and boundary F-score.

``--variant LABEL TYPE key=value ...`` adds rows that are not plain registered
names, e.g. a FeatUp-pretrained JBU
(``--variant JBUStack-FeatUp JBUStack checkpoint=work_dirs/.../upsampler.pth``:
:class:`~mmfeatup.models.upsamplers.JBUStack` loads the trained stages into
every neck level, whatever its channels).

``--curve-every N`` scores the held-out reconstruction every N steps of each training run
too: the learning curves (a table in ``results.md``, ``learning_curves.png``) that show
whether the budget was long enough. ``--workers N`` runs the quality jobs (one upsampler,
one seed each) in N processes. The probe uses the upsamplers the recon runs trained (saved
in ``--out``/upsamplers) when both run and recon's crop and the probe's size give the same
config (the same scale factor); otherwise it trains them as recon does.

Outputs in ``--out``: ``results.md`` (tables), ``results.json``,
``speed_vs_quality.png``, ``learning_curves.png`` and ``upsamplers/NAME_seedS.pth``.

FLOP convention: mmengine/fvcore's, see :mod:`mmfeatup.benchmark.cost`; ops not counted
are listed in the table's last column. The logic is the package :mod:`mmfeatup.benchmark`;
this file is its command line.

Examples::

    # cost only, the issue's setting (C=384, 14x14 -> 224x224, batch 1)
    python tools/analysis_tools/benchmark_upsamplers.py --quality none
    # everything with the default budget (20 recon steps x 2 seeds per trained upsampler,
    # 30 seg iterations x 2 seeds for bilinear and JBUStack): ~20-25 min on an idle 2-core CPU
    OMP_NUM_THREADS=1 nice python tools/analysis_tools/benchmark_upsamplers.py --quality all \
        --threads 1
    # the zoo at one equal budget, learning curves, 3 seeds, recon + probe (make benchmark-zoo)
    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_upsamplers.py --threads 1 --repeats 2 \
        --quality recon probe --channel-norm --iters 150 --curve-every 25 --seeds 0 1 2 \
        --views 3 --recon-crop 112 --recon-batch 2 --probe-pixels 2048 --workers 2 \
        --out work_dirs/bench_zoo
    # segmentation: bilinear vs JBU from scratch vs a JBU pre-trained with FeatUp's loss
    python tools/analysis_tools/benchmark_upsamplers.py --quality seg --threads 1 --seeds 0 1 2 \
        --variant JBUStack-FeatUp JBUStack \
        checkpoint=mmfeatup/weights/jbu_efficientnet-lite0-s16_photos-128.pth
    # a tiny end-to-end check
    python tools/analysis_tools/benchmark_upsamplers.py --sizes 4x4:16x16 --channels 8 \
        --quality recon --iters 1 --seeds 0 --views 1 --recon-crop 64 --only Bilinear JBUStack
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import shlex
import sys
from typing import Any, Dict, List, Optional, Sequence

import torch

from mmfeatup.benchmark.cost import measure_cost
from mmfeatup.benchmark.paired_stats import probe_pairs, recon_pairs
from mmfeatup.benchmark.plot import plot, plot_curves
from mmfeatup.benchmark.quality_probe import run_probe
from mmfeatup.benchmark.quality_recon import ensure_photos, run_recon
from mmfeatup.benchmark.quality_seg import default_seg_config, run_seg
from mmfeatup.benchmark.report import environment, results_markdown, write_results
from mmfeatup.benchmark.specs import (DEFAULT_SEG, REPO, for_seed, parse_size, parse_variant,
                                      priority_order, select_names)
from mmfeatup.benchmark.trained import reusable_checkpoints
from mmfeatup.benchmark.timer import Progress


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line (``argv``: None for ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', type=parse_size,
                        default=[parse_size('14x14:224x224')],
                        help='source:output sizes, e.g. 14x14:224x224 7x9:100x120')
    parser.add_argument('--channels', nargs='+', type=int, default=[384], help='feature channels C')
    parser.add_argument('--batch', type=int, default=1, help='batch size of the cost runs')
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto',
                        help='auto: CPU, and CUDA too when present')
    parser.add_argument('--repeats', type=int, default=5, help='timed repeats (median)')
    parser.add_argument('--quality', nargs='+', choices=['none', 'recon', 'probe', 'seg', 'all'],
                        default=['none'],
                        help='quality measures (several allowed, e.g. recon probe; all: the three)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1],
                        help='training seeds of the quality runs')
    parser.add_argument('--iters', type=int, default=20,
                        help='training steps of every trained upsampler (recon)')
    parser.add_argument('--curve-every', type=int, default=0,
                        help='also score held-out reconstruction every N training steps: each '
                        'run\'s learning curve (results.md table, learning_curves.png); 0: '
                        'only after the last step')
    parser.add_argument('--workers', type=int, default=1,
                        help='quality jobs (one upsampler, one seed) in N processes of one torch '
                        'thread each (use the number of cores)')
    parser.add_argument('--recon-batch', type=int, default=2, help='images per recon step')
    parser.add_argument('--lr', type=float, default=1e-3,
                        help='NAdam learning rate of every recon training (section 2 of '
                        'docs/benchmarks.md trains the JBU with 3e-3)')
    parser.add_argument('--recon-crop', type=int, default=112,
                        help='image side of recon training/eval (features: side/16)')
    parser.add_argument('--views', type=int, default=3, help='held-out views per image (recon)')
    parser.add_argument('--featurizer', default='efficientnet_lite0_s16')
    parser.add_argument('--featurizer-stride', type=int, default=16)
    parser.add_argument('--channel-norm', action='store_true',
                        help='ChannelNorm on the featurizer output, as the FeatUp training '
                        'configs (use it with a FeatUp-pretrained JBU --variant: its residual was '
                        'trained on channel-normed features)')
    parser.add_argument('--photos', default=osp.join(REPO, 'data', 'photos'),
                        help='folder with train/ and heldout/ photos (made when missing)')
    parser.add_argument('--probe-data-root', default=osp.join(REPO, 'data', 'ade_demo'),
                        help='labelled ADE20K-format data of the linear probe (default: the demo '
                        'set, made when missing; any ADE20K data_root works)')
    parser.add_argument('--probe-size', type=int, default=128, help='image side of the probe')
    parser.add_argument('--probe-steps', type=int, default=300, help='Adam steps per probe')
    parser.add_argument('--probe-pixels', type=int, default=None,
                        help='random pixels per image and probe step instead of whole maps '
                        '(same loss in expectation, a fraction of the cost)')
    parser.add_argument('--seg-config', default=None,
                        help='a FeatUpNeck config (default: configs/demo/'
                        'effnet-lite0_jbu_ade-demo-128x128.py)')
    parser.add_argument('--seg-data-root', default=osp.join(REPO, 'data', 'ade_demo'),
                        help='the demo dataset (made when missing)')
    parser.add_argument('--seg-iters', type=int, default=30, help='training iterations per seg run')
    parser.add_argument('--seg-only', nargs='+', default=None,
                        help=f'upsamplers of the seg runs (default {" ".join(DEFAULT_SEG)})')
    parser.add_argument('--only', nargs='+', default=None, help='benchmark only these upsamplers')
    parser.add_argument('--variant', nargs='+', action='append', metavar='LABEL TYPE key=value',
                        help='an extra row LABEL: upsampler TYPE with options, e.g. '
                        '--variant JBUStack-FeatUp JBUStack checkpoint=work_dirs/x/upsampler.pth '
                        '(a FeatUp-pretrained JBU); {seed} in a value becomes each run\'s seed '
                        '(one checkpoint per seed; cost rows use the first seed); repeatable; '
                        'always benchmarked (and in seg unless --seg-only leaves it out)')
    parser.add_argument('--skip', nargs='+', default=[], help='leave these upsamplers out')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s choice; 1 avoids OpenMP '
                        'spin contention on a shared, loaded CPU)')
    parser.add_argument('--out', default=osp.join(REPO, 'work_dirs', 'benchmark_upsamplers'))
    parser.add_argument('--render-only', action='store_true',
                        help='measure nothing: rewrite results.md and the plots of --out from its '
                        'results.json (with the settings of the command recorded there)')
    return parser.parse_args(argv)


def select_devices(choice: str) -> List[torch.device]:
    """The devices of ``--device`` (auto: CPU, and CUDA too when present)."""
    devices = [torch.device('cpu')] if choice in ('auto', 'cpu') else []
    if choice in ('auto', 'cuda') and torch.cuda.is_available():
        devices.append(torch.device('cuda'))
    if not devices:
        raise SystemExit('--device cuda: no CUDA device is available')
    return devices


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the benchmark; write ``results.md``, ``results.json`` and the plot to ``--out``.

    Returns:
        dict: ``cost`` (rows), ``recon``, ``seg`` and ``probe`` (results by name) and ``env``.
    """
    args = parse_args(argv)
    stored = None
    if args.render_only:
        with open(osp.join(args.out, 'results.json')) as f:
            stored = json.load(f)
        args = parse_args(shlex.split(stored['command'])[2:] + ['--out', args.out])
    if args.workers < 1 or args.curve_every < 0 or len(set(args.seeds)) != len(args.seeds):
        raise SystemExit('--workers must be >= 1, --curve-every >= 0 and --seeds distinct, got '
                         f'{args.workers}, {args.curve_every}, {args.seeds}')
    try:
        variants = dict(parse_variant(tokens) for tokens in args.variant or [])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    names = select_names(args.only, args.skip, variants)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    devices = select_devices(args.device) if stored is None else []
    env = environment() if stored is None else stored['env']
    print(f'upsamplers: {", ".join(names)}\nops backend: {env["ops_backend"]}, '
          f'torch {env["torch"]}, {env["threads"]} threads', flush=True)

    command = 'python tools/analysis_tools/benchmark_upsamplers.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv) if stored is None else stored['command']
    cost: List[Dict[str, Any]] = [] if stored is None else stored['cost']
    quality: Dict[str, Any] = dict(names=names, recon={}, seg={}, probe={}, note='')
    if stored is not None:  # only what was measured: no part runs below
        quality.update({k: stored.get(k) or {} for k in ('recon', 'seg', 'probe')})
        args.quality = []
    featurizer = dict(preset=args.featurizer, channel_norm=True) if args.channel_norm \
        else args.featurizer
    featurizer_name = args.featurizer + (' + ChannelNorm' if args.channel_norm else '')
    recon, seg = quality['recon'], quality['seg']
    notes = dict(seg='as recorded in results.json' if seg else 'not run')

    def save(final: bool = False) -> None:
        """Write results.md/json now (after every step, so a cut-short run keeps its results)."""
        recon_note = (f'Reconstruction: featurizer `{featurizer_name}`, {args.recon_crop}px '
                      f'crops, {args.iters} training steps x batch {args.recon_batch} (NAdam lr '
                      f'{args.lr}) per seed, seeds {args.seeds}, held-out photos '
                      f'`{args.photos}/heldout`, {args.views} views each (same views for all); '
                      f'{args.workers} job(s) at a time (train seconds include that sharing). '
                      if recon else 'Reconstruction: not run. ')
        reused = [r for row in quality['probe'].values() for r in row.get('reused') or []]
        others = (f'trained it as recon does ({args.iters} steps)' if args.iters else
                  'used it as built (--iters 0: parameter-free, or the weights its variant loads)')
        probe_note = (f'Linear probe: featurizer `{featurizer_name}`, `{args.probe_data_root}`, '
                      f'{args.probe_size}px, {args.probe_steps} Adam steps per probe'
                      + (f' on {args.probe_pixels} random pixels per image'
                         if args.probe_pixels else '')
                      + f'; {sum(reused)} of {len(reused)} probes used the upsampler of the recon '
                      f'run with that seed, the others {others}. '
                      if quality['probe'] else '')
        quality['note'] = f'{recon_note}{probe_note}Segmentation: {notes["seg"]}.'
        lines = results_markdown(command, env, variants, cost, quality, final)
        lines += recon_pairs(recon) + probe_pairs(quality['probe'])
        write_results(args.out, lines, dict(env=env, command=command, final=final, cost=cost,
                                            recon=recon, seg=seg, probe=quality['probe']))
        if final:
            print('\n'.join(lines))

    jobs = [(n, s, c, d) for d in devices for s in args.sizes for c in args.channels for n in names]
    progress = Progress(len(jobs), 'cost')
    for name, (source, output), channels, device in jobs:
        spec = for_seed(variants[name], args.seeds[0]) if name in variants else None
        cost.append(measure_cost(name, source, output, channels, args.batch, device, args.repeats,
                                 spec))
        progress.step(f'{name} {device.type}')
        save()
    progress.close()

    ordered = priority_order(names)  # the targets first
    if {'recon', 'all'} & set(args.quality):
        progress = Progress(len(names) * len(args.seeds), 'recon')
        run_recon(ordered, args.seeds, args.iters, args.photos, featurizer, args.recon_crop,
                  args.views, args.recon_batch, args.featurizer_stride, progress, recon, save,
                  variants, args.lr, args.curve_every, args.workers,
                  save_dir=osp.join(args.out, 'upsamplers'))
        progress.close()

    if {'probe', 'all'} & set(args.quality):
        from mmfeatup.datasets.ade_demo import ensure_ade_demo
        if osp.abspath(args.probe_data_root) == osp.join(REPO, 'data', 'ade_demo'):
            ensure_ade_demo(args.probe_data_root)
        progress = Progress(len(names) * len(args.seeds), 'probe')
        run_probe(ordered, args.seeds, args.iters, ensure_photos(args.photos)[0], featurizer,
                  args.probe_data_root, args.probe_size, progress, quality['probe'], save,
                  variants, args.lr, args.recon_batch, args.probe_steps,
                  stride=args.featurizer_stride, workers=args.workers,
                  checkpoints=reusable_checkpoints(recon, variants, args.featurizer_stride,
                                                   args.recon_crop, args.probe_size),
                  probe_pixels=args.probe_pixels, train_crop=args.recon_crop)
        progress.close()

    if {'seg', 'all'} & set(args.quality):
        config = args.seg_config or default_seg_config()
        seg_names = [n for n in ordered if n in (args.seg_only or [*DEFAULT_SEG, *variants])]
        if config is None or not osp.isfile(config):
            notes['seg'] = f'skipped: demo config not found ({config})'
            print(notes['seg'], flush=True)
        else:
            notes['seg'] = (f'config `{osp.relpath(config, REPO)}`, {args.seg_iters} '
                           f'iterations, seeds {args.seeds}')
            progress = Progress(len(seg_names) * len(args.seeds), 'seg')
            run_seg(seg_names, args.seeds, args.seg_iters, config, args.out,
                    osp.abspath(args.seg_data_root), progress, seg, save, variants)
            progress.close()

    save(final=True)
    plotted = plot(osp.join(args.out, 'speed_vs_quality.png'), cost, recon, seg, quality['probe'])
    curves = plot_curves(osp.join(args.out, 'learning_curves.png'), recon)
    print(f'results: {osp.join(args.out, "results.md")}'
          + (f', plot: {osp.join(args.out, "speed_vs_quality.png")}' if plotted else '')
          + (f', curves: {osp.join(args.out, "learning_curves.png")}' if curves else ''))
    return dict(cost=cost, recon=recon, seg=seg, probe=quality['probe'], env=env)


if __name__ == '__main__':
    main()
