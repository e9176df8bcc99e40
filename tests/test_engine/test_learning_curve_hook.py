"""LearningCurveHook: scores in eval mode at the chosen iterations, then restores train mode."""
import random
import time
import types

import numpy as np
import pytest
import torch
from torch import nn

from mmfeatup.engine import LearningCurveHook


def fake_runner(model):
    logger = types.SimpleNamespace(info=lambda message: None)
    return types.SimpleNamespace(model=model, iter=0, logger=logger)


def test_scores_at_start_and_points_in_eval_mode():
    model = nn.Module()
    model.upsampler = nn.Dropout()
    seen = []

    def score(module):
        seen.append(module.training)
        time.sleep(0.01)
        return dict(value=len(seen))

    hook = LearningCurveHook(score, points=[3, 1], attribute='upsampler')
    runner = fake_runner(model)
    model.train()
    hook.before_train(runner)
    for step in range(4):
        runner.iter = step
        hook.after_train_iter(runner, step)
    assert [p['iter'] for p in hook.curve] == [0, 1, 3]
    assert [p['value'] for p in hook.curve] == [1.0, 2.0, 3.0]
    assert seen == [False, False, False] and model.upsampler.training
    assert hook.seconds >= 0.03  # three calls, each at least 10 ms


def test_scorer_random_draws_leave_the_training_streams_alone():
    def greedy(module):
        torch.rand(5)
        np.random.rand(5)
        random.random()
        return dict(v=1.0)

    hook = LearningCurveHook(greedy, points=[1])
    runner = fake_runner(nn.Linear(1, 1))
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    hook.before_train(runner)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_resumed_run_does_not_score_step_zero_and_points_must_be_positive():
    hook = LearningCurveHook(lambda m: dict(v=1.0), points=[2])
    runner = fake_runner(nn.Linear(1, 1))
    runner.iter = 5
    hook.before_train(runner)
    assert hook.curve == []
    with pytest.raises(ValueError, match='points must be >= 1'):
        LearningCurveHook(lambda m: {}, points=[0, 2])
