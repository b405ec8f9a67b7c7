import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graph.evaluate import full_ranking


def _reference(
    scores: np.ndarray, train: np.ndarray, test: np.ndarray, k: int
) -> tuple[float, float]:
    recalls, ndcgs = [], []
    for u in range(scores.shape[0]):
        rel = set(np.flatnonzero(test[u]).tolist())
        if not rel:
            continue
        s = scores[u].copy()
        s[train[u] > 0] = -np.inf
        top = np.argsort(-s, kind="stable")[:k]
        hits = [1.0 if i in rel else 0.0 for i in top]
        recalls.append(sum(hits) / len(rel))
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(rel), k)))
        ndcgs.append(dcg / idcg)
    return float(np.mean(recalls)), float(np.mean(ndcgs))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_brute_force_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 40, 60, 5
    train = (rng.random((n_users, n_items)) < 0.1).astype(np.float32)
    test = ((rng.random((n_users, n_items)) < 0.08) & (train == 0)).astype(np.float32)
    test[3] = 0  # a user with nothing held out is not averaged
    u, i = torch.randn(n_users, 8), torch.randn(n_items, 8)
    got = full_ranking(u, i, sp.csr_matrix(train), sp.csr_matrix(test), k=k, chunk=7)
    recall, ndcg = _reference((u @ i.T).numpy(), train, test, k)
    assert got.users == int((test.sum(1) > 0).sum())
    assert got.recall == pytest.approx(recall, abs=1e-6)
    assert got.ndcg == pytest.approx(ndcg, abs=1e-6)


def test_a_perfect_scorer_gets_one() -> None:
    test = sp.csr_matrix(np.eye(6, dtype=np.float32))
    train = sp.csr_matrix((6, 6), dtype=np.float32)
    got = full_ranking(torch.eye(6), torch.eye(6), train, test, k=2)
    assert (got.recall, got.ndcg) == (1.0, 1.0)
