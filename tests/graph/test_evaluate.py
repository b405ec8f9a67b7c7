"""``full_ranking`` against a loop over users (LightGCN's definitions) and against ranx."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graph.evaluate import full_ranking


def _reference(
    scores: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix, k: int
) -> tuple[float, float, int]:
    """One user at a time, as ``full_ranking`` has always counted: a user with a stored test entry
    is evaluated, Recall@k = hits / stored test entries, binary NDCG@k with the ideal DCG over
    min(stored test entries, k); a stored zero is counted but never hit (``inductive_recall``'s
    catalogue test matrix has such entries)."""
    recalls, ndcgs = [], []
    for u in range(scores.shape[0]):
        lo, hi = test.indptr[u], test.indptr[u + 1]
        n_held = int(hi - lo)
        if n_held == 0:
            continue
        rel = {int(i) for i, v in zip(test.indices[lo:hi], test.data[lo:hi], strict=True) if v > 0}
        seen = set(train.indices[train.indptr[u] : train.indptr[u + 1]].tolist())
        order = [int(i) for i in np.argsort(-scores[u], kind="stable") if int(i) not in seen]
        hits = [1.0 if i in rel else 0.0 for i in order[:k]]
        recalls.append(sum(hits) / n_held)
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(n_held, k)))
        ndcgs.append(dcg / idcg)
    return float(np.mean(recalls)), float(np.mean(ndcgs)), len(recalls)


def _random_case(
    seed: int, n_users: int = 40, n_items: int = 60, dim: int = 8
) -> tuple[torch.Tensor, torch.Tensor, sp.csr_matrix, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    train = (rng.random((n_users, n_items)) < 0.1).astype(np.float32)
    test = ((rng.random((n_users, n_items)) < 0.08) & (train == 0)).astype(np.float32)
    test[3] = 0  # a user with nothing held out is not averaged
    train[5, 3:] = 1  # fewer eligible items than k
    test[5] = 0
    test[5, :2] = 1
    test[7, 10:14] = 1  # a user with more held-out items than k = 1 or 2
    u = torch.from_numpy(rng.normal(size=(n_users, dim)).astype(np.float32))
    i = torch.from_numpy(rng.normal(size=(n_items, dim)).astype(np.float32))
    return u, i, sp.csr_matrix(train), sp.csr_matrix(test)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("k", "chunk"), [(1, 7), (2, 2048), (5, 7), (20, 13)])
def test_matches_a_loop_reference(seed: int, k: int, chunk: int) -> None:
    """Regression: the figures of the pre-``engine.core.ranking_metrics`` implementation."""
    u, i, train, test = _random_case(seed)
    got = full_ranking(u, i, train, test, k=k, chunk=chunk)
    recall, ndcg, users = _reference((u @ i.T).numpy(), train, test, k)
    assert got.users == users == int((np.diff(test.indptr) > 0).sum())
    assert got.recall == pytest.approx(recall, abs=1e-12)
    assert got.ndcg == pytest.approx(ndcg, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_stored_zeros_count_as_held_out_but_never_hit(seed: int) -> None:
    u, i, train, test = _random_case(seed)
    test = test.copy()
    rng = np.random.default_rng(seed + 100)
    test.data[rng.random(test.nnz) < 0.3] = 0.0
    test.data[test.indptr[9] : test.indptr[10]] = 0.0  # only stored zeros: evaluated, scores 0
    assert test.indptr[10] > test.indptr[9]
    got = full_ranking(u, i, train, test, k=5, chunk=11)
    recall, ndcg, users = _reference((u @ i.T).numpy(), train, test, 5)
    assert got.users == users
    assert (got.recall, got.ndcg) == pytest.approx((recall, ndcg), abs=1e-12)


def test_chunking_does_not_change_the_figures() -> None:
    u, i, train, test = _random_case(4, n_users=90)
    a = full_ranking(u, i, train, test, k=10, chunk=1)
    b = full_ranking(u, i, train, test, k=10, chunk=2048)
    assert a.users == b.users
    assert (a.recall, a.ndcg) == pytest.approx((b.recall, b.ndcg), abs=1e-12)


def _ranx_means(scores: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix, k: int) -> Any:
    ranx = pytest.importorskip("ranx")
    qrels, run = {}, {}
    for u in np.flatnonzero(np.diff(test.indptr)):
        q = f"q{u:06d}"
        qrels[q] = {f"d{i}": 1 for i in test.indices[test.indptr[u] : test.indptr[u + 1]]}
        seen = set(train.indices[train.indptr[u] : train.indptr[u + 1]].tolist())
        run[q] = {f"d{i}": float(s) for i, s in enumerate(scores[u]) if i not in seen}
    return ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), [f"recall@{k}", f"ndcg@{k}"])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_matches_ranx(seed: int, k: int) -> None:
    u, i, train, test = _random_case(seed, n_users=120, n_items=200, dim=16)
    got = full_ranking(u, i, train, test, k=k, chunk=50)
    ref = _ranx_means((u @ i.T).numpy(), train, test, k)
    assert got.recall == pytest.approx(ref[f"recall@{k}"], abs=1e-9)
    assert got.ndcg == pytest.approx(ref[f"ndcg@{k}"], abs=1e-9)


def test_a_perfect_scorer_gets_one() -> None:
    test = sp.csr_matrix(np.eye(6, dtype=np.float32))
    train = sp.csr_matrix((6, 6), dtype=np.float32)
    got = full_ranking(torch.eye(6), torch.eye(6), train, test, k=2)
    assert (got.recall, got.ndcg) == (1.0, 1.0)


def test_no_held_out_user_gives_zero() -> None:
    empty = sp.csr_matrix((4, 5), dtype=np.float32)
    got = full_ranking(torch.ones(4, 2), torch.ones(5, 2), empty, empty, k=3)
    assert (got.recall, got.ndcg, got.users) == (0.0, 0.0, 0)
    assert got.as_dict() == {"recall@3": 0.0, "ndcg@3": 0.0, "users": 0}
