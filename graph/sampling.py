"""BPR triple sampling as in the LightGCN reference code: a user drawn uniformly among users
with interactions, one of that user's items uniformly, and a negative drawn uniformly from the
items the user has not interacted with (rejection, vectorised)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.core.arrays import I64


class BprSampler:
    def __init__(self, interactions: sp.csr_matrix, seed: int = 0) -> None:
        m = interactions.tocsr()
        m.sort_indices()
        self._indptr = m.indptr.astype(np.int64)
        self._indices = m.indices.astype(np.int64)
        self._n_items = int(m.shape[1])
        deg = np.diff(self._indptr)
        self._active = np.flatnonzero(deg).astype(np.int64)
        if self._active.size == 0:
            raise ValueError("no user has an interaction")
        if int(deg.max()) >= self._n_items:
            raise ValueError("a user interacted with every item: no negative exists")
        rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), deg)
        self._keys = rows * self._n_items + self._indices  # sorted: rows ascending, cols sorted
        self._rng = np.random.default_rng(seed)

    def get_state(self) -> dict[str, object]:
        """The random generator's state (to resume a run with the same draws)."""
        return dict(self._rng.bit_generator.state)

    def set_state(self, state: dict[str, object]) -> None:
        self._rng.bit_generator.state = state

    def _is_positive(self, users: I64, items: I64) -> npt.NDArray[np.bool_]:
        keys = users * self._n_items + items
        at = np.searchsorted(self._keys, keys)
        at = np.minimum(at, self._keys.size - 1)
        return np.asarray(self._keys[at] == keys)

    def sample(self, n: int, negatives: int = 1) -> tuple[I64, I64, I64]:
        """``n`` triples ``(users, positives, negatives)``; with ``negatives > 1`` the third
        array has shape ``(n, negatives)``: independent draws for the same (user, positive)."""
        rng = self._rng
        users = self._active[rng.integers(0, self._active.size, n)]
        start = self._indptr[users]
        deg = self._indptr[users + 1] - start
        pos = self._indices[start + (rng.random(n) * deg).astype(np.int64)]
        owners = np.repeat(users, negatives)
        neg = rng.integers(0, self._n_items, n * negatives)
        bad = np.flatnonzero(self._is_positive(owners, neg))
        while bad.size:
            neg[bad] = rng.integers(0, self._n_items, bad.size)
            bad = bad[self._is_positive(owners[bad], neg[bad])]
        return users, pos, (neg if negatives == 1 else neg.reshape(n, negatives))
