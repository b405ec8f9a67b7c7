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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Relevant = tuple[IntArray, IntArray]


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


def hit_matrix(ranked: npt.ArrayLike, relevant: Relevant) -> BoolArray:
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


def _n_relevant(relevant: Relevant) -> IntArray:
    return np.diff(relevant[0]).astype(np.int64)


def _check_k(hits: BoolArray, k: int) -> BoolArray:
    if k < 1:
        raise ValueError("k must be >= 1")
    return hits[:, :k]


def recall_at_k(hits: BoolArray, n_relevant: IntArray, k: int) -> FloatArray:
    h = _check_k(hits, k).sum(axis=1).astype(np.float64)
    n = np.asarray(n_relevant, dtype=np.float64)
    out: FloatArray = np.divide(h, n, out=np.zeros_like(h), where=n > 0)
    return out


def hit_rate_at_k(hits: BoolArray, k: int) -> FloatArray:
    return np.asarray(_check_k(hits, k).any(axis=1), dtype=np.float64)


def _discounts(k: int) -> FloatArray:
    out: FloatArray = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    return out


def ndcg_at_k(hits: BoolArray, n_relevant: IntArray, k: int) -> FloatArray:
    h = _check_k(hits, k)
    disc = _discounts(k)
    dcg = h.astype(np.float64) @ disc[: h.shape[1]]
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal_cum[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]
    out: FloatArray = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)
    return out


def mrr_at_k(hits: BoolArray, k: int) -> FloatArray:
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


def ndcg_per_list(ranked: npt.ArrayLike, relevant: Relevant, k: int) -> FloatArray:
    """NDCG@k of each ranked list (for paired comparisons of two rankers)."""
    return ndcg_at_k(hit_matrix(ranked, relevant), _n_relevant(relevant), k)


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
