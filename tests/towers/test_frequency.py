from __future__ import annotations

import math

import numpy as np
import pytest

from towers.frequency import CountFrequency, StreamingFrequency, uniform_log_q


def test_streaming_estimator_recovers_the_per_batch_probability() -> None:
    # item 0 is in every batch, item 1 in every 4th, item 2 in every 10th
    est = StreamingFrequency(n_buckets=1024, alpha=0.05, seed=0)
    for t in range(1, 2001):
        batch = [0] + ([1] if t % 4 == 0 else []) + ([2] if t % 10 == 0 else [])
        est.step(np.asarray(batch, dtype=np.int64))
    p = est.probability([0, 1, 2])
    assert p == pytest.approx([1.0, 0.25, 0.1], rel=0.05)


def test_streaming_step_returns_log_probabilities_of_the_batch() -> None:
    est = StreamingFrequency(n_buckets=64, alpha=1.0)
    est.step(np.array([5]))
    est.step(np.array([9]))
    out = est.step(np.array([5, 5]))  # seen 2 steps ago; duplicates count once
    assert out == pytest.approx([math.log(1 / 2)] * 2)


def test_count_frequency_is_the_probability_of_being_in_a_batch() -> None:
    targets = np.array([0] * 6 + [1] * 3 + [2])
    f = CountFrequency(targets, n_items=4, batch_size=2)
    share = 0.6
    assert math.exp(f.step(np.array([0]))[0]) == pytest.approx(1 - (1 - share) ** 2, rel=1e-3)
    assert f.log_p[0] > f.log_p[1] > f.log_p[2] > f.log_p[3]


def test_uniform() -> None:
    assert uniform_log_q(10, 1000) == pytest.approx(math.log(0.01))
