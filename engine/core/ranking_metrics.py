"""Offline top-K metrics as pure, vectorised functions.

Inputs are column-shaped: ``ranked`` is an ``int`` matrix (users x K), best first, padded with
``-1`` where a user has fewer than K items (a pad never matches). Relevant items are given as a
CSR-like pair ``(indptr, items)``: user ``u``'s relevant set is ``items[indptr[u]:indptr[u+1]]``
(see :func:`relevant_from_lists`). Relevance is binary; rows of ``ranked`` must not repeat an
item. Every metric returns one value per user (mean them yourself, or use :func:`evaluate`);
a user with no relevant item scores 0 on every metric.

Definitions (``hit[u, i]`` = the item at rank ``i`` (0-based) is relevant, ``R_u`` = number of
relevant items):

- ``recall@K = sum_{i<K} hit / R_u``
- ``HR@K = 1 if any(hit[:K]) else 0``
- ``DCG@K = sum_{i<K} hit / log2(i + 2)``, ``NDCG@K = DCG@K / IDCG@K`` with
  ``IDCG@K = sum_{i < min(R_u, K)} 1 / log2(i + 2)``
- ``MRR@K = 1 / (first hit rank + 1)``, 0 if no hit within K
- catalogue coverage@K = distinct items in all top-K lists / catalogue size

These agree with ranx's ``recall@k``, ``hit_rate@k``, ``ndcg@k`` and ``mrr@k`` (tested).

From a score matrix (users x items, e.g. a full-catalogue ranking): :func:`top_k_from_scores`
turns it into ``ranked`` (excluding, say, each user's training items), and
:func:`recall_ndcg_from_scores` applies the definitions above to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64, Bool

Relevant = tuple[I64, I64]


def relevant_from_lists(lists: Sequence[npt.ArrayLike]) -> Relevant:
    """``(indptr, items)`` from one array of relevant items per user (duplicates dropped)."""
    arrays = [np.unique(np.asarray(x, dtype=np.int64)) for x in lists]
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    indptr = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    items = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    return indptr, items.astype(np.int64, copy=False)


def relevant_single(targets: npt.ArrayLike) -> Relevant:
    """``(indptr, items)`` for exactly one relevant item per user (leave-one-out)."""
    t = np.asarray(targets, dtype=np.int64)
    return np.arange(len(t) + 1, dtype=np.int64), t


def hit_matrix(ranked: npt.ArrayLike, relevant: Relevant) -> Bool:
    """``hit[u, i]``: whether ``ranked[u, i]`` is in user ``u``'s relevant set."""
    r = np.asarray(ranked, dtype=np.int64)
    indptr, items = relevant
    n_users = r.shape[0]
    if len(indptr) != n_users + 1:
        raise ValueError(f"relevant has {len(indptr) - 1} users, ranked has {n_users}")
    if r.size == 0:
        return np.zeros(r.shape, dtype=np.bool_)
    base = max(int(r.max()), int(items.max()) if len(items) else 0) + 2
    rel_users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(indptr))
    rel_keys = rel_users * base + items
    keys = np.arange(n_users, dtype=np.int64)[:, None] * base + r
    return np.isin(keys, rel_keys) & (r >= 0)


def _n_relevant(relevant: Relevant) -> I64:
    return np.diff(relevant[0]).astype(np.int64)


def _check_k(hits: Bool, k: int) -> Bool:
    if k < 1:
        raise ValueError("k must be >= 1")
    return hits[:, :k]


def recall_at_k(hits: Bool, n_relevant: I64, k: int) -> F64:
    h = _check_k(hits, k).sum(axis=1).astype(np.float64)
    n = np.asarray(n_relevant, dtype=np.float64)
    out: F64 = np.divide(h, n, out=np.zeros_like(h), where=n > 0)
    return out


def hit_rate_at_k(hits: Bool, k: int) -> F64:
    return np.asarray(_check_k(hits, k).any(axis=1), dtype=np.float64)


def _discounts(k: int) -> F64:
    out: F64 = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    return out


def ndcg_at_k(hits: Bool, n_relevant: I64, k: int) -> F64:
    h = _check_k(hits, k)
    disc = _discounts(k)
    dcg = h.astype(np.float64) @ disc[: h.shape[1]]
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal_cum[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]
    out: F64 = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)
    return out


def mrr_at_k(hits: Bool, k: int) -> F64:
    h = _check_k(hits, k)
    any_hit = h.any(axis=1)
    first = np.argmax(h, axis=1).astype(np.float64)
    return np.where(any_hit, 1.0 / (first + 1.0), 0.0)


def catalogue_coverage(ranked: npt.ArrayLike, n_items: int, k: int) -> float:
    """Share of the ``n_items`` catalogue that appears in at least one top-``k`` list."""
    if n_items <= 0:
        raise ValueError("n_items must be positive")
    r = np.asarray(ranked, dtype=np.int64)[:, :k]
    r = r[(r >= 0) & (r < n_items)]
    return float(len(np.unique(r)) / n_items)


def ndcg_per_list(ranked: npt.ArrayLike, relevant: Relevant, k: int) -> F64:
    """NDCG@k of each ranked list (for paired comparisons of two rankers)."""
    return ndcg_at_k(hit_matrix(ranked, relevant), _n_relevant(relevant), k)


_BLOCK = 1 << 22  # score cells per block in top_k_from_scores (16 MB of float32)


def top_k_from_scores(scores: npt.ArrayLike, k: int, exclude: Relevant | None = None) -> I64:
    """The ``k`` highest-scoring columns of each row of ``scores`` (users x items), best first.

    Ties go to the lower column index. ``exclude`` (``(indptr, items)``, one row per user) lists
    items never ranked for that user, e.g. the user's training items; a row with fewer than
    ``k`` eligible items is padded with ``-1``. NaN scores give an unspecified order.

    Vectorised over blocks of rows: a partition of a reused buffer finds each row's ``k``-th
    eligible score, then only the items at or above it are sorted. ``scores`` is not modified.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be a matrix, got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float64)
    n_users, n_items = s.shape
    out = np.full((n_users, k), -1, dtype=np.int64)
    if n_users == 0 or n_items == 0:
        return out
    if exclude is None:
        ex_ptr, ex_items = np.zeros(n_users + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    else:
        ex_ptr = np.asarray(exclude[0], dtype=np.int64)
        ex_items = np.asarray(exclude[1], dtype=np.int64)
        if len(ex_ptr) != n_users + 1:
            raise ValueError(f"exclude has {len(ex_ptr) - 1} users, scores has {n_users}")
    kk = min(k, n_items)
    rows = max(1, min(n_users, _BLOCK // n_items))
    work = np.empty((rows, n_items), dtype=s.dtype)
    above = np.empty((rows, n_items), dtype=np.bool_)
    found = []
    for lo in range(0, n_users, rows):
        hi = min(lo + rows, n_users)
        block, w, a = s[lo:hi], work[: hi - lo], above[: hi - lo]
        ex_u = np.repeat(np.arange(hi - lo, dtype=np.int64), np.diff(ex_ptr[lo : hi + 1]))
        ex_i = ex_items[ex_ptr[lo] : ex_ptr[hi]]
        np.copyto(w, block)
        w[ex_u, ex_i] = -np.inf
        w.partition(n_items - kk, axis=1)
        np.greater_equal(block, w[:, n_items - kk, None], out=a)
        flat = np.flatnonzero(a)  # the top kk, plus ties at the k-th score and excluded items
        if len(ex_i):
            flat = flat[~np.isin(flat, ex_u * n_items + ex_i)]
        found.append(flat + lo * n_items)
    users, cols = np.divmod(np.concatenate(found), n_items)
    order = np.lexsort((cols, -s[users, cols], users))
    users, cols = users[order], cols[order]
    starts = np.searchsorted(users, np.arange(n_users, dtype=np.int64))
    rank = np.arange(len(users), dtype=np.int64) - starts[users]
    keep = rank < kk
    out[users[keep], rank[keep]] = cols[keep]
    return out


def recall_ndcg_from_scores(
    scores: npt.ArrayLike,
    relevant: Relevant,
    k: int,
    exclude: Relevant | None = None,
    n_relevant: npt.ArrayLike | None = None,
) -> tuple[F64, F64]:
    """Per-user ``recall@k`` and ``NDCG@k`` of the ranking of every item by ``scores``.

    ``scores`` is users x items; ``relevant`` and ``exclude`` have one row per user (see
    :func:`top_k_from_scores` for ties and exclusion). ``n_relevant`` overrides the recall
    denominator and the ideal-DCG count (default: the size of each relevant set), for relevant
    items that cannot be hit. Evaluate a large catalogue in chunks of users.
    """
    ranked = top_k_from_scores(scores, k, exclude)
    hits = hit_matrix(ranked, relevant)
    n_rel = _n_relevant(relevant) if n_relevant is None else np.asarray(n_relevant, dtype=np.int64)
    if len(n_rel) != len(ranked):
        raise ValueError(f"n_relevant has {len(n_rel)} users, scores has {len(ranked)}")
    return recall_at_k(hits, n_rel, k), ndcg_at_k(hits, n_rel, k)


def evaluate(
    ranked: npt.ArrayLike, relevant: Relevant, ks: Iterable[int] = (5, 10, 20)
) -> dict[str, float]:
    """Mean ``recall``, ``hr``, ``ndcg`` and ``mrr`` at each K, keyed like ``"ndcg@10"``."""
    hits = hit_matrix(ranked, relevant)
    n_rel = _n_relevant(relevant)
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = float(recall_at_k(hits, n_rel, k).mean())
        out[f"hr@{k}"] = float(hit_rate_at_k(hits, k).mean())
        out[f"ndcg@{k}"] = float(ndcg_at_k(hits, n_rel, k).mean())
        out[f"mrr@{k}"] = float(mrr_at_k(hits, k).mean())
    return out
