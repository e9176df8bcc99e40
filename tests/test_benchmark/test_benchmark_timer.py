"""mmfeatup.benchmark.timer: the one timer (torch.utils.benchmark.Timer), Stopwatch, Progress."""
import time

import torch

from mmfeatup.benchmark import Progress, Stopwatch, mean_std, time_ms


def test_time_ms_is_the_median_of_the_timed_calls():
    calls = []

    def sleep():
        calls.append(torch.get_num_threads())
        time.sleep(0.01 if len(calls) != 4 else 0.2)  # one slow call: the median ignores it

    wall, cpu = time_ms(sleep, repeats=3)
    assert 9 <= wall < 100
    assert 0 <= cpu < wall  # sleeping costs no CPU time
    assert len(calls) == 3 + 2  # the Timer's warm-up, then the timed calls
    assert set(calls) == {torch.get_num_threads()}  # torch's threads, not the Timer's one


def test_time_ms_counts_process_cpu_time():
    x = torch.randn(64, 64)
    wall, cpu = time_ms(lambda: [x @ x for _ in range(50)], repeats=1)
    assert wall > 0 and cpu > 0


def test_stopwatch_and_progress(capsys, monkeypatch):
    with Stopwatch() as watch:
        time.sleep(0.02)
    done = watch.seconds
    assert 0.02 <= done < 1 and watch.seconds == done  # stopped
    monkeypatch.setitem(__import__('sys').modules, 'tqdm', None)  # the plain-lines fallback
    progress = Progress(2, 'cost')
    progress.step('Bilinear cpu')
    progress.close()
    assert '[cost] 1/2 Bilinear cpu elapsed' in capsys.readouterr().out


def test_mean_std():
    assert mean_std([1.0, 3.0]) == (2.0, 2 ** 0.5)
    assert mean_std([2.0, float('nan'), None]) == (2.0, 0.0)
    mean, std = mean_std([])
    assert mean != mean and std != std  # NaN
