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


def csr_topk(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row, rows sorted by value descending (ties by
    column). A per-row loop of ``argpartition`` on slices: faster here than any global sort.

    Not :func:`~engine.core.retrieval.exact.top_k_indices` per row: its extra pass for ties at
    the k-th place made this loop up to 1.5x slower on long rows of integer counts (where such
    ties are common), so which of the entries tied at the k-th place is kept is up to
    ``argpartition`` here; the kept ones are in order, ties by column."""
    mat = sp.csr_matrix(mat)
    mat.sum_duplicates()  # also sorts the column indices of each row
    n_rows = mat.shape[0]
    indptr, indices, data = mat.indptr, mat.indices, mat.data
    parts: list[I64] = []
    new_counts = np.zeros(n_rows, dtype=np.int64)
    for r in np.flatnonzero(np.diff(indptr)):
        a, b = int(indptr[r]), int(indptr[r + 1])
        d = data[a:b]
        sel = np.arange(b - a) if b - a <= k else np.sort(np.argpartition(-d, k - 1)[:k])
        sel = sel[np.argsort(-d[sel], kind="stable")]  # columns are sorted: ties by column
        parts.append(sel + a)
        new_counts[r] = len(sel)
    keep = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    out_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(new_counts, out=out_indptr[1:])
    out = sp.csr_matrix((data[keep], indices[keep], out_indptr), shape=mat.shape)
    out.has_sorted_indices = False
    return out
