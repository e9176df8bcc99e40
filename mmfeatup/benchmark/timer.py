"""The one timer of the benchmarks: :class:`torch.utils.benchmark.Timer` with medians.

:func:`time_ms` times repeated calls (latency of a forward, a backward...);
:class:`Stopwatch` times one long run that cannot be repeated (a training); both
read :func:`torch.utils.benchmark.utils.timer.timer`, the clock of torch's
``Timer``, which synchronizes the accelerator (CUDA) before reading
:func:`time.perf_counter`. :class:`Progress` reports steps with elapsed time and ETA.
"""
from __future__ import annotations

import statistics
import sys
import time
from typing import Any, Callable, List, Optional, Tuple

import torch
from torch.utils.benchmark import Timer
from torch.utils.benchmark.utils.timer import timer as synced_clock


class _LapClock:
    """torch's synced clock that also notes every reading and the process CPU time."""

    def __init__(self) -> None:
        self.walls: List[float] = []
        self.cpus: List[float] = []

    def __call__(self) -> float:
        wall = synced_clock()
        self.walls.append(wall)
        self.cpus.append(time.process_time())
        return wall


def _laps_ms(stamps: List[float], count: int) -> List[float]:
    """The ``count`` per-call durations (ms) of the last block of readings.

    A block is ``start, after call 1, ..., after call count, end``.
    """
    block = stamps[-(count + 2):-1]
    return [1000 * (b - a) for a, b in zip(block, block[1:])]


def time_ms(fn: Callable[[], Any], repeats: int) -> Tuple[float, float]:
    """Median wall time and median process CPU time of one call of ``fn``, in milliseconds.

    :class:`torch.utils.benchmark.Timer` runs ``fn`` (its warm-up first, which also
    validates the inputs), with torch's current thread count (not the ``Timer``'s
    default of one) and synchronizing the accelerator around every call. On a shared
    CPU the process CPU time (with one thread, the compute time of one core) is far
    less sensitive to other processes than the wall time.

    Args:
        fn (callable): the call to time, no arguments.
        repeats (int): timed calls (at least 1).

    Returns:
        tuple[float, float]: ``(wall_ms, cpu_ms)``, medians over the calls.
    """
    repeats = max(1, int(repeats))
    clock = _LapClock()
    timer = Timer(stmt='fn()\nlap()', globals=dict(fn=fn, lap=clock), timer=clock,
                  num_threads=torch.get_num_threads())
    timer.timeit(number=repeats)  # a warm-up block, then the timed block
    return (statistics.median(_laps_ms(clock.walls, repeats)),
            statistics.median(_laps_ms(clock.cpus, repeats)))


class Stopwatch:
    """Time one run (``with Stopwatch() as watch: ...``; then ``watch.seconds``).

    Reads the same synced clock as :func:`time_ms`; for runs that cannot be warmed up
    or repeated (a training). ``watch.seconds`` is the time so far while running.
    """

    def __init__(self) -> None:
        self.start = synced_clock()
        self.stop: Optional[float] = None

    def __enter__(self) -> 'Stopwatch':
        self.start, self.stop = synced_clock(), None
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop = synced_clock()

    @property
    def seconds(self) -> float:
        """Seconds from the start to the end (or to now, while running)."""
        return (synced_clock() if self.stop is None else self.stop) - self.start


class Progress:
    """tqdm when installed, else one line per step with count, elapsed time and ETA.

    Args:
        total (int): the number of steps.
        desc (str): what the steps are, e.g. ``'cost'``.
    """

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.watch = Stopwatch()
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, file=sys.stdout, dynamic_ncols=True)
        except ImportError:
            self.bar = None

    def step(self, label: str) -> None:
        """Count one step done.

        Args:
            label (str): what was done, shown with the count.
        """
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(label)
            self.bar.update(1)
            return
        elapsed = self.watch.seconds
        eta = elapsed / self.done * (self.total - self.done)
        print(f'[{self.desc}] {self.done}/{self.total} {label} '
              f'elapsed {elapsed:.0f}s eta {eta:.0f}s', flush=True)

    def resize(self, total: int) -> None:
        """Change the number of steps (known once the jobs are listed)."""
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def close(self) -> None:
        """Close the bar (nothing to do for the plain lines)."""
        if self.bar is not None:
            self.bar.close()
