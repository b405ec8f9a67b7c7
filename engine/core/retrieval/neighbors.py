"""Weighted item-to-item neighbours over a sparse item x item table (co-visitation, content)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.core.arrays import F32, I64
from engine.core.retrieval.exact import top_k_indices


def weighted_neighbors(
    matrix: sp.csr_matrix,
    item_rows: npt.ArrayLike,
    item_weights: npt.ArrayLike,
    k: int,
    exclude: npt.ArrayLike | None = None,
) -> tuple[I64, F32]:
    """Top ``k`` columns by ``sum_i item_weights[i] * matrix[item_rows[i], :]``, best first;
    columns in ``exclude`` are never returned."""
    rows = np.asarray(item_rows, dtype=np.int64)
    wts = np.asarray(item_weights, dtype=np.float32)
    m = matrix
    starts, ends = m.indptr[rows], m.indptr[rows + 1]
    lengths = ends - starts
    if lengths.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    cand = m.indices[idx].astype(np.int64)
    vals = m.data[idx] * np.repeat(wts, lengths)
    uniq, inv = np.unique(cand, return_inverse=True)
    scores = np.bincount(inv, weights=vals).astype(np.float32)
    if exclude is not None:
        keep = ~np.isin(uniq, np.asarray(exclude, dtype=np.int64))
        uniq, scores = uniq[keep], scores[keep]
    best = top_k_indices(scores, k)  # uniq is sorted: ties go to the lower item row
    return uniq[best], scores[best]
