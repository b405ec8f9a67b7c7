"""Compiled loops (numba) for the per-request work over ~3,000 candidates that numpy can only
express with large temporaries: token matches over ragged rows, and sparse row dot products.

Each kernel computes what the numpy or scipy expression it replaces computes, in the same
order and the same precision, so the features (and the ranked lists) are unchanged:

- :func:`match_sums` is ``np.bincount(owner[hit], weights=idf[k[hit]])`` over rows of sorted,
  distinct ids: per row, the float64 sum of the query-token idfs it carries, in the row's
  token order (and the count of those tokens, ``np.bincount(owner[hit])``);
- :func:`sparse_dots` is scipy's ``A[cols] @ B[row].T`` (and ``A[cols] @ x``) for several
  vectors at once: per vector and candidate, the float32 sum of ``A[c, j] * x[j]`` over the
  candidate's stored entries, in their stored order (an absent ``x[j]`` is 0 and adds
  nothing).

Compiled on first use and cached beside the sources (``NUMBA_CACHE_DIR`` moves the cache);
:func:`warm` compiles them ahead of the first request.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.core.arrays import F32, F64, I64


@njit(cache=True, nogil=True, inline="always")
def _find(q: I64, t: np.int64) -> int:
    """Index of ``t`` in the sorted ``q``, or -1: a scan, as a query has a few tokens (a
    binary search through ``np.searchsorted`` measured 4x slower here)."""
    found = -1
    for k in range(len(q)):
        if q[k] == t:
            found = k
            break
    return found


@njit(cache=True, nogil=True, inline="always")
def _lower_bound(flat: I64, lo: int, hi: int, t: np.int64) -> int:
    """The first position in ``flat[lo:hi]`` (sorted) whose value is not below ``t``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if flat[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def match_sums(
    flat: I64, start: I64, length: I64, rows: I64, q: I64, q_idf: F64
) -> tuple[F64, I64]:
    """Per row of ``rows``: the sum of ``q_idf`` over its tokens found in the sorted ``q``,
    and how many of its tokens were found. Each row's ids must be sorted and distinct (the
    catalog's name, description and attribute fields are built so): every query token is
    looked up by bisection from where the last one was, instead of a scan of the row, and
    the sum still runs in the row's (ascending) token order."""
    sums = np.zeros(len(rows), np.float64)
    counts = np.zeros(len(rows), np.int64)
    for i in range(len(rows)):
        r = rows[i]
        lo = start[r]
        hi = lo + length[r]
        s = 0.0
        c = 0
        for k in range(len(q)):
            lo = _lower_bound(flat, lo, hi, q[k])
            if lo < hi and flat[lo] == q[k]:
                s += q_idf[k]
                c += 1
                lo += 1
        sums[i] = s
        counts[i] = c
    return sums, counts


def idf_sums(flat: I64, start: I64, length: I64, rows: I64, q: I64, q_idf: F64) -> F64:
    """Per row of ``rows``: the sum of ``q_idf`` over its tokens found in the sorted ``q``."""
    sums: F64 = match_sums(flat, start, length, rows, q, q_idf)[0]
    return sums


@njit(cache=True, nogil=True)
def title_scan(
    flat: I64, start: I64, length: I64, rows: I64, q: I64, head: np.int64
) -> tuple[np.ndarray, F64]:
    """Per row: whether a token equals ``head``, and the position of the first token found in
    ``q`` (``inf`` without one)."""
    has_head = np.zeros(len(rows), np.bool_)
    first = np.full(len(rows), np.inf)
    for i in range(len(rows)):
        r = rows[i]
        for pos in range(length[r]):
            t = flat[start[r] + pos]
            if t == head:
                has_head[i] = True
            if first[i] == np.inf and _find(q, t) >= 0:
                first[i] = pos
    return has_head, first


@njit(cache=True, nogil=True)
def sparse_dots(indptr: I64, indices: I64, data: F32, cols: I64, xs: F32) -> F32:
    """Per vector ``x`` of the rows of ``xs`` and candidate ``c`` of ``cols`` (each a valid
    row): ``sum_j data[c, j] * x[j]`` over the row's stored entries, accumulated in float32.
    Each candidate's entries are read once for every vector."""
    out = np.zeros((xs.shape[0], len(cols)), np.float32)
    for i in range(len(cols)):
        c = cols[i]
        for p in range(indptr[c], indptr[c + 1]):
            j = indices[p]
            d = data[p]
            for k in range(xs.shape[0]):
                out[k, i] += d * xs[k, j]
    return out


def warm() -> None:
    """Compile (or load from the cache) every kernel now."""
    one = np.zeros(1, np.int64)
    match_sums(one, one, one, one, one, np.zeros(1, np.float64))
    title_scan(one, one, one, one, one, np.int64(0))
    f32 = np.zeros(1, np.float32)
    for index in (np.int32, np.int64):  # scipy's index dtype: int32 unless a matrix needs more
        sparse_dots(np.zeros(2, index), np.zeros(1, index), f32, one, np.zeros((1, 1), np.float32))
