"""Time JBUStack, JBUFused and bilinear on one feature map; print a table.

Example (the issue's CPU target: C=384, 14x14 -> 224x224)::

    python tools/analysis_tools/benchmark_jbu.py --channels 384 --source 14 --output 224

Columns (timed with :func:`mmfeatup.benchmark.time_ms`): median forward time (eval,
no_grad), the backward time of one ``out.sum()`` (train mode, where requested) and, for
JBUFused, its relative L2 distance to the JBUStack it was converted from (the dropped
stage fixups).
"""
from __future__ import annotations

import argparse

import torch

from mmfeatup.benchmark import time_ms


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--channels', type=int, default=384)
    parser.add_argument('--source', type=int, nargs='+', default=[14], help='h [w]')
    parser.add_argument('--output', type=int, nargs='+', default=[224], help='H [W]')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--backward', action='store_true', help='also time a backward pass')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmfeatup import ops
    from mmfeatup.models.upsamplers import BilinearUpsampler, JBUFused, JBUStack

    source_size = tuple(args.source) * (2 // len(args.source))
    output_size = tuple(args.output) * (2 // len(args.output))
    gen = torch.Generator().manual_seed(args.seed)
    source = torch.randn(args.batch, args.channels, *source_size, generator=gen)
    image = torch.rand(args.batch, 3, *output_size, generator=gen)

    torch.manual_seed(args.seed)
    stack = JBUStack(args.channels).eval()
    fused = JBUFused.from_jbu_stack(stack)
    bilinear = BilinearUpsampler(args.channels)
    models = [('JBUStack', stack), ('JBUFused', fused), ('Bilinear', bilinear)]

    with torch.no_grad():
        reference = stack(source, image, output_size=output_size)
        fused_out = fused(source, image, output_size=output_size)
    fused_err = ((fused_out - reference).norm() / reference.norm()).item()

    print(f'ops backend: {ops.backend()}; threads: {torch.get_num_threads()}; '
          f'input {tuple(source.shape)} -> {output_size}')
    header = '| upsampler | forward (s) |' + (' fwd+bwd (s) |' if args.backward else '') + \
        ' rel. L2 vs JBUStack |'
    print(header)
    print('|---' * (header.count('|') - 1) + '|')
    for name, model in models:
        def forward(model=model):
            with torch.no_grad():
                return model(source, image, output_size=output_size)

        row = f'| {name} | {time_ms(forward, args.repeats)[0] / 1000:.3f} |'
        if args.backward:
            params = [p for p in model.parameters()]

            def forward_backward(model=model, params=params):
                model.train()
                inp = source.clone().requires_grad_(True)
                model(inp, image, output_size=output_size).sum().backward()
                model.eval()
                for param in params:
                    param.grad = None

            row += f' {time_ms(forward_backward, args.repeats)[0] / 1000:.3f} |'
        err = {'JBUStack': 0.0, 'JBUFused': fused_err}.get(name)
        if err is None:
            with torch.no_grad():
                out = forward()
            err = ((out - reference).norm() / reference.norm()).item()
        row += f' {err:.4f} |'
        print(row)


if __name__ == '__main__':
    main()
