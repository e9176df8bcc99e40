"""Where does an upsampler put a feature? Centroid shift of an impulse under flat guidance.

A feature impulse at the centre of source cell ``(i, j)`` should come out centred on
``((i + 0.5) * H / h, (j + 0.5) * W / w)`` in output pixels (the half-pixel convention of
``F.interpolate(..., align_corners=False)``). With a flat guidance image an edge-aware
upsampler has no edge to follow, so any shift is a bias of the module itself, and in a
segmentation neck it moves every boundary. Printed per upsampler: the mean and largest
centroid shift (output pixels, rows / columns) over impulses at every interior source cell,
and the mass kept (sum of the output / (H*W / (h*w)); 1 for a normalised filter).

Examples::

    python tools/analysis_tools/upsampler_alignment.py
    python tools/analysis_tools/upsampler_alignment.py --source 4 --output 32 \\
        --checkpoint mmfeatup/weights/jbu_efficientnet-lite0-s16_photos-128.pth
"""
from __future__ import annotations

import argparse
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

import mmfeatup.models  # noqa: F401  (registers the upsamplers)
from mmfeatup.registry import build_upsampler


def impulse_shifts(upsampler: nn.Module, source: Tuple[int, int], output: Tuple[int, int],
                   margin: int = 2) -> Dict[str, float]:
    """Centroid shift statistics of impulses at the source cells ``margin`` away from the border.

    Args:
        upsampler (nn.Module): any registered upsampler for one channel (left unchanged:
            a float64 copy in eval mode is measured).
        source (tuple[int, int]): source size ``(h, w)``.
        output (tuple[int, int]): output size ``(H, W)``.
        margin (int): source cells left out at each border (reflect padding shifts
            impulses next to a border by design). Default: 2.

    Returns:
        dict: ``mean_dy``, ``mean_dx``, ``max_abs`` (output pixels) and ``mass``.

    A JBU stack's final ``C x C`` residual (``fixup_proj``: channel mixing plus a bias,
    nothing spatial) is zeroed on a copy: with one channel it would only rescale the
    impulse and add a constant.
    """
    h, w = source
    height, width = output
    if min(h, w) <= 2 * margin:
        raise ValueError(f'source {source} has no cell {margin} away from the border')
    upsampler = copy.deepcopy(upsampler).double().eval()
    if isinstance(getattr(upsampler, 'fixup_proj', None), nn.Sequential):
        with torch.no_grad():
            for param in upsampler.fixup_proj.parameters():
                param.zero_()
    cells = [(i, j) for i in range(margin, h - margin) for j in range(margin, w - margin)]
    batch = torch.zeros(len(cells), 1, h, w, dtype=torch.float64)
    for index, (i, j) in enumerate(cells):
        batch[index, 0, i, j] = 1.0
    guidance = torch.zeros(len(cells), 3, height, width, dtype=torch.float64)
    with torch.no_grad():
        out: Tensor = upsampler(batch, guidance, output_size=(height, width))[:, 0]
    rows = torch.arange(height, dtype=torch.float64) + 0.5
    cols = torch.arange(width, dtype=torch.float64) + 0.5
    mass = out.sum(dim=(1, 2))
    centre_y = (out.sum(2) * rows).sum(1) / mass
    centre_x = (out.sum(1) * cols).sum(1) / mass
    expected = torch.tensor([[(i + 0.5) * height / h, (j + 0.5) * width / w] for i, j in cells],
                            dtype=torch.float64)
    dy, dx = centre_y - expected[:, 0], centre_x - expected[:, 1]
    return dict(mean_dy=float(dy.mean()), mean_dx=float(dx.mean()),
                max_abs=float(torch.maximum(dy.abs(), dx.abs()).max()),
                mass=float(mass.mean() / (height * width / (h * w))))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--source', type=int, default=8, help='source side h = w')
    parser.add_argument('--output', type=int, default=64, help='output side H = W')
    parser.add_argument('--upsamplers', nargs='+', default=['Bilinear', 'Bicubic', 'JBUStack',
                                                            'JBUFused'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='initialisation seeds of the upsamplers with parameters')
    parser.add_argument('--checkpoint', default=None,
                        help='a trained JBU (JBUStack/JBUFused rows with its weights are added)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, object]]:
    args = parse_args(argv)
    size = (args.source, args.source)
    output = (args.output, args.output)
    configs = [(name, dict(type=name), seed) for name in args.upsamplers for seed in args.seeds]
    if args.checkpoint:
        configs += [(f'{name} + checkpoint', dict(type=name, checkpoint=args.checkpoint), 0)
                    for name in args.upsamplers if name.startswith('JBU')]
    rows: List[Dict[str, object]] = []
    print(f'impulse centroid shift, flat guidance, {size} -> {output} (output pixels)\n')
    print('| upsampler | init seed | mean shift rows | mean shift cols | max abs shift | mass |')
    print('|---|---|---:|---:|---:|---:|')
    seen = set()
    for label, cfg, seed in configs:
        torch.manual_seed(seed)
        module = build_upsampler(cfg, in_channels=1, guidance_channels=3)
        if not any(True for _ in module.parameters()):
            if label in seen:  # parameter-free: one row is enough
                continue
            seed_text = '-'
        else:
            seed_text = str(seed) if 'checkpoint' not in cfg else 'trained'
        seen.add(label)
        stats = impulse_shifts(module, size, output)
        rows.append(dict(upsampler=label, seed=seed_text, **stats))
        print(f'| {label} | {seed_text} | {stats["mean_dy"]:+.3f} | {stats["mean_dx"]:+.3f} | '
              f'{stats["max_abs"]:.3f} | {stats["mass"]:.3f} |')
    return rows


if __name__ == '__main__':
    main()
