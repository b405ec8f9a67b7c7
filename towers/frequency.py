"""Sampling probabilities for the logQ correction, on one scale: the probability that an item
is among the positives of one training batch.

- :class:`CountFrequency`: from the training stream's item counts. An item with share
  ``f_j = n_j / N`` of the positives is in a batch of ``B`` draws with probability
  ``p_j = 1 - (1 - f_j)^B``.
- :class:`StreamingFrequency`: the streaming estimator of Yi et al. (RecSys 2019, Algorithm 2),
  for a stream whose distribution drifts. Two arrays indexed by a hash ``h`` of the item: ``A``
  the last step an item was seen and ``D`` the estimated number of steps between two sightings.
  At step ``t``, for each item ``y`` in the batch::

      D[h(y)] <- (1 - alpha) D[h(y)] + alpha (t - A[h(y)]);   A[h(y)] <- t

  and ``p_y = 1 / D[h(y)]``: an item seen every ``D`` steps is in a batch with probability
  ``1/D``.
- :func:`uniform_log_q`: ``log(M / N)`` for ``M`` negatives drawn uniformly from ``N`` items.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64


class CountFrequency:
    def __init__(self, targets: npt.ArrayLike, n_items: int, batch_size: int) -> None:
        counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=n_items)
        share = (counts + 1e-3) / (counts.sum() + 1e-3 * n_items)
        self.log_p: F64 = np.log(-np.expm1(batch_size * np.log1p(-share)))

    def step(self, items: I64) -> F64:
        """``log p`` of each item of this batch (the counts are fixed)."""
        out: F64 = self.log_p[items]
        return out


class StreamingFrequency:
    def __init__(self, n_buckets: int, alpha: float = 0.01, seed: int = 0) -> None:
        self.n_buckets = n_buckets
        self.alpha = alpha
        rng = np.random.default_rng(seed)
        self._a = int(rng.integers(1, 2**31 - 1)) | 1  # odd multiplier of the hash
        self._b = int(rng.integers(0, 2**31 - 1))
        self.last = np.zeros(n_buckets, np.float64)
        self.gap = np.zeros(n_buckets, np.float64)
        self.t = 0

    def _hash(self, items: I64) -> I64:
        out: I64 = ((items * self._a + self._b) % (2**61 - 1)) % self.n_buckets
        return out

    def step(self, items: I64) -> F64:
        """Advance one batch; returns ``log p`` of each item of the batch (after the update)."""
        self.t += 1
        h = self._hash(np.asarray(items, dtype=np.int64))
        u = np.unique(h)
        self.gap[u] = (1 - self.alpha) * self.gap[u] + self.alpha * (self.t - self.last[u])
        self.last[u] = self.t
        out: F64 = -np.log(np.maximum(self.gap[h], 1.0))
        return out

    def probability(self, items: npt.ArrayLike) -> F64:
        g = self.gap[self._hash(np.asarray(items, dtype=np.int64))]
        out: F64 = 1.0 / np.maximum(g, 1.0)
        return out


def uniform_log_q(n_negatives: int, n_items: int) -> float:
    """Log probability that a given item is among ``M`` uniform draws from ``N`` (``M / N``)."""
    return math.log(min(n_negatives / n_items, 1.0))
