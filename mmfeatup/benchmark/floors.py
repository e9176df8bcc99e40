"""What this machine can do at best: measured peak multiply-add rate and memory bandwidth.

A figure's *floor* is the time it could not beat on this machine: the larger of its
multiply-adds at the measured peak rate (a large float32 matrix product, the best case of
the BLAS torch ships) and its compulsory bytes (what must be read or written at least once)
at the measured copy bandwidth. Both are measured with the thread count in effect, in the
same process as the figures they bound, so ``figure / floor`` says how far a figure is from
what the hardware allows, not from a datasheet.
"""
from __future__ import annotations

from typing import Dict

import torch

from .timer import time_ms


def measure_peaks(matmul_size: int = 2048, copy_mib: int = 256,
                  repeats: int = 5) -> Dict[str, float]:
    """Peak multiply-adds per second and copy bandwidth of this machine (float32).

    Args:
        matmul_size (int): side ``n`` of the square matrix product (``n^3`` multiply-adds).
        copy_mib (int): MiB copied per bandwidth call (read once, written once).
        repeats (int): timed calls per figure (median).

    Returns:
        dict: ``gmacs`` (10^9 multiply-adds per second) and ``gbps`` (10^9 bytes moved per
        second, read + write).
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(matmul_size, matmul_size, generator=gen)
    b = torch.randn(matmul_size, matmul_size, generator=gen)
    out = torch.empty(matmul_size, matmul_size)
    matmul_ms, _ = time_ms(lambda: torch.mm(a, b, out=out), repeats)
    numel = copy_mib * 2**20 // 4
    src, dst = torch.ones(numel), torch.zeros(numel)
    copy_ms, _ = time_ms(lambda: dst.copy_(src), repeats)
    return dict(gmacs=matmul_size**3 / matmul_ms / 1e6, gbps=2 * 4 * numel / copy_ms / 1e6)


def floor_ms(macs: float, nbytes: float, peaks: Dict[str, float]) -> float:
    """The floor of one figure: ``max(macs / peak rate, bytes / bandwidth)``, in ms.

    Args:
        macs (float): multiply-adds (FLOPs in mmengine's convention).
        nbytes (float): compulsory bytes read + written.
        peaks (dict): :func:`measure_peaks`'s result.

    Returns:
        float: milliseconds.
    """
    return max(macs / peaks['gmacs'], nbytes / peaks['gbps']) / 1e6
