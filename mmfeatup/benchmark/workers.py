"""Run the benchmark's independent jobs (one upsampler, one seed) serially or in processes.

Each job is a top-level function and keyword arguments (both picklable). With ``workers > 1``
the jobs run in ``spawn``-ed processes, one torch thread each (one core per process beats
several OpenMP threads per job on a small CPU); results come back in completion order.
A job that raises is reported as ``dict(error=...)``, and the others go on.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Dict, Hashable, Sequence, Tuple

Job = Tuple[Hashable, Dict[str, Any]]


def _init_worker(threads: int) -> None:
    """Set a worker process's torch threads (the pool's initializer).

    Args:
        threads (int): torch CPU threads.
    """
    import torch
    torch.set_num_threads(threads)


def _error(error: BaseException) -> Dict[str, Any]:
    """A job's failure as a result."""
    return dict(error=f'{type(error).__name__}: {error}'[:200])


def _safe_call(fn: Callable[..., Dict[str, Any]], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """``fn(**kwargs)``, or its exception as ``dict(error=...)``."""
    try:
        return fn(**kwargs)
    except Exception as error:  # noqa: BLE001 - report, keep benchmarking the others
        return _error(error)


def run_jobs(fn: Callable[..., Dict[str, Any]], jobs: Sequence[Job], workers: int,
             on_result: Callable[[Hashable, Dict[str, Any]], None],
             threads_per_worker: int = 1) -> None:
    """Call ``fn(**kwargs)`` for every ``(key, kwargs)`` job; ``on_result(key, result)`` after each.

    Args:
        fn (Callable): a module-level function returning a dict.
        jobs (Sequence[tuple]): ``(key, kwargs)`` pairs.
        workers (int): processes (1: in this process, in order).
        on_result (Callable): called in this process with each job's key and result (or
            ``dict(error=...)``).
        threads_per_worker (int): torch threads of each worker process. Default: 1.
    """
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    if workers == 1 or len(jobs) <= 1:
        for key, kwargs in jobs:
            on_result(key, _safe_call(fn, kwargs))
        return
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context,
                             initializer=_init_worker, initargs=(threads_per_worker, )) as pool:
        futures = {pool.submit(_safe_call, fn, kwargs): key for key, kwargs in jobs}
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - a worker died (BrokenProcessPool)
                    result = _error(error)
                on_result(futures[future], result)
        except BaseException:  # on_result failed or Ctrl-C: do not wait for the others
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def add_seed_result(entry: Dict[str, Any], seed: int, result: Dict[str, Any],
                    keys: Sequence[str]) -> None:
    """Put one seed's ``result[key]`` into ``entry[key]`` lists, kept in seed order.

    Args:
        entry (dict): a result row with a ``seeds`` list (changed in place).
        seed (int): the seed of ``result``.
        result (dict): one job's result.
        keys (Sequence[str]): the keys to add (a missing one adds None).
    """
    position = sum(1 for s in entry['seeds'] if s < seed)
    entry['seeds'].insert(position, seed)
    for key in keys:
        entry.setdefault(key, []).insert(position, result.get(key))


def run_seed_jobs(fn: Callable[..., Dict[str, Any]], jobs: Sequence[Job], seeds: Sequence[int],
                  workers: int, results: Dict[str, Dict[str, Any]], keys: Sequence[str],
                  constant: Sequence[str], progress: Any, on_update: Callable[[], None],
                  label: str) -> None:
    """Run ``(name, seed)`` jobs seed-major (a cut-short run has every row) and gather them.

    Each result goes into ``results[name]``: ``keys`` as per-seed lists in seed order,
    ``constant`` keys as they are, a failure as ``error``; ``progress.step`` and ``on_update``
    follow every job.

    Args:
        fn (Callable): the job function (:func:`run_jobs`).
        jobs (Sequence[tuple]): ``((name, seed), kwargs)`` pairs.
        seeds (Sequence[int]): the seeds, in the order to run them (rows list them in
            increasing order).
        workers (int): processes.
        results (dict): rows by name, each with a ``seeds`` list (filled in place).
        keys (Sequence[str]): per-seed result keys.
        constant (Sequence[str]): result keys that are the same for every seed.
        progress (Progress): the progress display (resized to the number of jobs).
        on_update (Callable): called after every job (saves partial results).
        label (str): the progress label, e.g. ``'recon'``.
    """
    jobs = sorted(jobs, key=lambda job: list(seeds).index(job[0][1]))
    progress.resize(len(jobs))
    on_update()

    def collect(key: Hashable, result: Dict[str, Any]) -> None:
        name, seed = key  # type: ignore[misc]
        entry = results[name]
        if 'error' in result:  # every failed seed is named; the row's seeds say what ran
            entry['error'] = '; '.join(filter(None, [entry.get('error'),
                                                     f'seed {seed}: {result["error"]}']))
        else:
            add_seed_result(entry, seed, result, keys)
            entry.update({k: result.get(k) for k in constant})
        progress.step(f'{label} {name} seed {seed}')
        on_update()

    run_jobs(fn, jobs, workers, collect)
