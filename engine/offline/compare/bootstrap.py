"""Paired bootstrap confidence intervals over users.

Every variant ran on the same held-out requests, so the figures are paired: one replicate
draws the users with replacement (all of a user's requests come along, they are not
independent) and recomputes every variant's mean on the *same* draw. The spread of a
difference between two variants over the replicates is then the spread of the difference,
not of two independent means; the interval is the replicates' 2.5th to 97.5th percentile
(Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13).

A mean over a subset of the requests (a surface and segment) is a ratio of sums over the
drawn users, so each replicate is ``(K @ sums) / (K @ counts)`` with ``K`` the draw counts of
each user: the replicates of every figure are a few matrix products.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64

REPLICATES = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Draws:
    """How often each user is drawn in each replicate (``counts[replicate, user]``), and the
    user (column of ``counts``) of every row of the sample."""

    counts: F64
    column: I64

    @property
    def replicates(self) -> int:
        return int(self.counts.shape[0])

    @property
    def users(self) -> int:
        return int(self.counts.shape[1])


def draw(clusters: npt.ArrayLike, *, replicates: int = REPLICATES, seed: int = 0) -> Draws:
    """``replicates`` resamples, with replacement, of the distinct values of ``clusters``."""
    ids, column = np.unique(np.asarray(clusters, np.int64), return_inverse=True)
    n = len(ids)
    rng = np.random.default_rng(seed)
    if n == 0:
        return Draws(np.zeros((replicates, 0)), column.astype(np.int64))
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)
    return Draws(counts, column.astype(np.int64))


def identity(draws: Draws) -> Draws:
    """The sample itself as a single replicate (every user once): the point estimates."""
    return Draws(np.ones((1, draws.users)), draws.column)


def sums(draws: Draws, rows: npt.NDArray[np.bool_], values: F64) -> tuple[F64, F64]:
    """Per replicate: the sum of ``values[rows]`` (``[replicates, variants]``) and the number of
    rows drawn (``[replicates]``). Rows whose value is NaN for any variant are left out."""
    keep = rows & np.isfinite(values).all(axis=1)
    col = draws.column[keep]
    per_user = np.zeros((draws.users, values.shape[1]))
    np.add.at(per_user, col, values[keep])
    n_user = np.bincount(col, minlength=draws.users).astype(np.float64)
    return draws.counts @ per_user, draws.counts @ n_user


def means(draws: Draws, rows: npt.NDArray[np.bool_], values: F64) -> F64:
    """Per replicate and variant, the mean of ``values`` over ``rows`` (NaN: no row drawn)."""
    total, n = sums(draws, rows, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n[:, None] > 0, total / np.maximum(n, 1.0)[:, None], np.nan)


def interval(replicates: F64, confidence: float = CONFIDENCE) -> F64:
    """``[2, ...]``: the lower and upper percentile of the replicates along axis 0 (NaN
    replicates, where a subset drew no row, are ignored)."""
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gives NaN
        return np.asarray(np.nanpercentile(replicates, [tail, 100 - tail], axis=0), np.float64)


def excludes_zero(ci: npt.ArrayLike) -> bool:
    lo, hi = (float(x) for x in np.asarray(ci, np.float64))
    return bool(lo > 0 or hi < 0)
