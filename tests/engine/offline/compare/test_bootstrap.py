"""The paired bootstrap on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from engine.offline.compare.bootstrap import draw, excludes_zero, identity, interval, means

N = 2000


def test_each_replicate_is_a_resample_of_the_users() -> None:
    users = np.repeat(np.arange(50), 3)  # three requests each
    d = draw(users, replicates=200, seed=1)
    assert d.counts.shape == (200, 50) and np.all(d.counts.sum(axis=1) == 50)
    assert np.array_equal(identity(d).counts, np.ones((1, 50)))
    # a replicate's mean is the mean over the drawn users' requests, each as often as drawn
    rng = np.random.default_rng(0)
    values = rng.normal(size=(150, 2))
    rows = rng.random(150) < 0.7
    got = means(d, rows, values)
    r = 17
    weight = d.counts[r][d.column] * rows
    assert np.allclose(got[r], (weight[:, None] * values).sum(0) / weight.sum())
    assert np.allclose(means(identity(d), rows, values)[0], values[rows].mean(0))


def test_the_interval_of_a_mean_matches_the_normal_one() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 2.0, (N, 1))
    d = draw(np.arange(N), replicates=1000, seed=0)
    lo, hi = interval(means(d, np.ones(N, bool), x))[:, 0]
    half = 1.959964 * 2.0 / np.sqrt(N)
    assert lo < x.mean() < hi
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.12)


def test_requests_of_one_user_are_drawn_together() -> None:
    """Each user's value counted ten times: the interval is as wide as with one request per
    user, not sqrt(10) times narrower (as it would be if the requests were independent)."""
    rng = np.random.default_rng(4)
    per_user = rng.normal(0.0, 1.0, 300)
    once = interval(means(draw(np.arange(300)), np.ones(300, bool), per_user[:, None]))
    users = np.repeat(np.arange(300), 10)
    tenfold = interval(means(draw(users), np.ones(3000, bool), per_user[users][:, None]))
    assert np.diff(tenfold[:, 0])[0] == pytest.approx(np.diff(once[:, 0])[0], rel=0.15)


def test_paired_differences_are_tighter_than_the_means() -> None:
    """b = a + 0.01 + small noise: each mean's interval is wide (the users differ a lot), the
    difference's is narrow and excludes 0 because both variants see the same draws."""
    rng = np.random.default_rng(5)
    a = rng.normal(0.3, 0.3, N)
    b = a + 0.01 + rng.normal(0, 0.02, N)
    reps = means(draw(np.arange(N)), np.ones(N, bool), np.stack([a, b], axis=1))
    own = interval(reps)
    diff = interval(reps[:, 1] - reps[:, 0])
    assert excludes_zero(diff) and diff[0] == pytest.approx(0.01, abs=0.002)
    assert own[1, 0] > own[0, 1]  # the two means' intervals overlap
    same = interval(reps[:, 0] - reps[:, 0])
    assert not excludes_zero(same)


def test_an_empty_subset_gives_no_interval() -> None:
    d = draw(np.arange(10), replicates=50)
    got = interval(means(d, np.zeros(10, bool), np.ones((10, 2))))
    assert np.isnan(got).all()
