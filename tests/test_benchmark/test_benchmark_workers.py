"""run_jobs: serial and process-parallel runs give the same results; a failing job is reported."""
import pytest

from mmfeatup.benchmark.workers import run_jobs


def square_or_fail(value):
    if value < 0:
        raise ValueError('negative')
    import torch
    return dict(value=value * value, threads=torch.get_num_threads())


@pytest.mark.parametrize('workers', [1, 2])
def test_results_by_key_and_errors(workers):
    got = {}
    run_jobs(square_or_fail, [(k, dict(value=k)) for k in (3, -1, 2)], workers,
             lambda key, result: got.__setitem__(key, result))
    assert got[3]['value'] == 9 and got[2]['value'] == 4
    assert got[-1] == dict(error='ValueError: negative')
    if workers > 1:
        assert got[3]['threads'] == 1  # one torch thread per worker process
    with pytest.raises(ValueError, match='workers'):
        run_jobs(square_or_fail, [], 0, lambda key, result: None)


def scored(name, seed):
    if name == 'Broken':
        raise RuntimeError('no')
    return dict(score=10 * seed, count=3)


def test_seed_jobs_fill_rows_in_seed_order():
    from mmfeatup.benchmark.timer import Progress
    from mmfeatup.benchmark.workers import run_seed_jobs
    jobs = [((name, seed), dict(name=name, seed=seed))
            for name in ('A', 'Broken') for seed in (2, 0, 1)]
    results = {name: dict(seeds=[]) for name in ('A', 'Broken')}
    order, updates = [], []
    progress = Progress(1, 'test')
    progress.step = lambda label: order.append(label)
    run_seed_jobs(scored, jobs, [0, 1, 2], 1, results, ('score', ), ('count', ), progress,
                  lambda: updates.append(1), 'probe')
    assert order[:2] == ['probe A seed 0', 'probe Broken seed 0']  # seed-major
    assert results['A'] == dict(seeds=[0, 1, 2], score=[0, 10, 20], count=3)
    assert results['Broken']['error'].startswith('seed ') and 'RuntimeError: no' in \
        results['Broken']['error']
    assert progress.total == 6 and len(updates) == 7  # once before the jobs, once per job


def test_add_seed_result_keeps_seed_order_whatever_the_arrival():
    from mmfeatup.benchmark.workers import add_seed_result
    entry = dict(seeds=[])
    for seed in (2, 0, 1):
        add_seed_result(entry, seed, dict(score=10 * seed), ('score', 'missing'))
    assert entry == dict(seeds=[0, 1, 2], score=[0, 10, 20], missing=[None, None, None])
