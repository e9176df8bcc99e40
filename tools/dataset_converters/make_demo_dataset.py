"""Generate the bundled ADE20K-format demo dataset from real photographs.

    python tools/dataset_converters/make_demo_dataset.py --out data/ade_demo

Deterministic for given arguments: a complete dataset of the same arguments already at
``--out`` is kept. See :func:`mmfeatup.datasets.ade_demo.ensure_ade_demo`.
"""
import argparse
import json
import sys


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Make the ADE20K-format demo dataset')
    parser.add_argument('--out', default='data/ade_demo', help='dataset root to write')
    parser.add_argument('--num-train', type=int, default=120)
    parser.add_argument('--num-val', type=int, default=30)
    parser.add_argument('--size', type=int, default=160, help='side of the square samples')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmfeatup.datasets.ade_demo import ensure_ade_demo

    def progress(done: int, total: int) -> None:
        sys.stdout.write(f'\rmaking {args.out}: {done}/{total}')
        sys.stdout.flush()

    meta, built = ensure_ade_demo(args.out, args.num_train, args.num_val, args.size, args.seed,
                                  progress=progress)
    action = 'wrote' if built else 'kept (already there)'
    print(f'\n{action} {meta["num_train"]} training + {meta["num_val"]} validation samples '
          f'to {args.out}; classes: {json.dumps(sorted(meta["classes"]))}')


if __name__ == '__main__':
    main()
