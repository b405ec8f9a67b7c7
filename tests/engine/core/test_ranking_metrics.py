"""Metrics against ranx on random data, plus properties."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.core import ranking_metrics as m


def _random_case(seed: int, n_users: int = 300, n_items: int = 60, k: int = 20):
    rng = np.random.default_rng(seed)
    ranked = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    # some users have short lists (padded with -1)
    short = rng.random(n_users) < 0.2
    cut = rng.integers(1, k, size=n_users)
    for u in np.flatnonzero(short):
        ranked[u, cut[u] :] = -1
    lists = [rng.choice(n_items, size=rng.integers(1, 8), replace=False) for _ in range(n_users)]
    return ranked, lists


def _ranx_scores(ranked: Any, lists: Any, metric_names: list[str]) -> Any:
    ranx = pytest.importorskip("ranx")
    qrels = {f"q{u:06d}": {f"d{i}": 1 for i in rel} for u, rel in enumerate(lists)}
    run = {}
    for u, row in enumerate(ranked):
        items = [int(i) for i in row if i >= 0]
        run[f"q{u:06d}"] = {f"d{i}": float(len(items) - j) for j, i in enumerate(items)}
        if not items:  # ranx needs a non-empty run per query
            run[f"q{u:06d}"] = {"none": 1.0}
    return ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), metric_names, return_mean=False)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_ranx(seed: int) -> None:
    ranked, lists = _random_case(seed)
    rel = m.relevant_from_lists(lists)
    hits = m.hit_matrix(ranked, rel)
    n_rel = np.diff(rel[0])
    for k in (1, 5, 10, 20):
        ours = {
            f"recall@{k}": m.recall_at_k(hits, n_rel, k),
            f"hit_rate@{k}": m.hit_rate_at_k(hits, k),
            f"ndcg@{k}": m.ndcg_at_k(hits, n_rel, k),
            f"mrr@{k}": m.mrr_at_k(hits, k),
        }
        ref = _ranx_scores(ranked, lists, list(ours))
        for name, values in ours.items():
            np.testing.assert_allclose(values, np.asarray(ref[name]), atol=1e-6, err_msg=name)


@pytest.mark.parametrize("seed", [0, 1])
def test_properties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 500, 100, 10
    ranked = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    targets = rng.integers(0, n_items, size=n_users)
    rel = m.relevant_single(targets)
    hits = m.hit_matrix(ranked, rel)
    n_rel = np.ones(n_users, dtype=np.int64)
    for kk in (1, 5, 10):
        rec = m.recall_at_k(hits, n_rel, kk)
        hr = m.hit_rate_at_k(hits, kk)
        nd = m.ndcg_at_k(hits, n_rel, kk)
        mrr = m.mrr_at_k(hits, kk)
        for v in (rec, hr, nd, mrr):
            assert np.all((v >= 0) & (v <= 1))
        assert np.all(hr >= rec - 1e-12)
        assert np.all(nd <= hr + 1e-12) and np.all(mrr <= hr + 1e-12)
    # monotone in K
    assert np.all(m.hit_rate_at_k(hits, 10) >= m.hit_rate_at_k(hits, 5))


def test_perfect_ranking() -> None:
    rng = np.random.default_rng(5)
    lists = [rng.choice(50, size=rng.integers(1, 12), replace=False) for _ in range(100)]
    k = 10
    ranked = np.full((100, k), -1, dtype=np.int64)
    for u, rel_items in enumerate(lists):
        top = rel_items[:k]
        ranked[u, : len(top)] = top
    rel = m.relevant_from_lists(lists)
    hits = m.hit_matrix(ranked, rel)
    np.testing.assert_allclose(m.ndcg_at_k(hits, np.diff(rel[0]), k), 1.0)
    np.testing.assert_allclose(m.mrr_at_k(hits, k), 1.0)


def test_known_values_and_coverage() -> None:
    ranked = np.array([[3, 1, 2], [0, 4, -1]])
    rel = m.relevant_single([1, 5])
    out = m.evaluate(ranked, rel, ks=(1, 3))
    assert out["hr@1"] == 0.0
    assert out["hr@3"] == pytest.approx(0.5)
    assert out["ndcg@3"] == pytest.approx(0.5 / np.log2(3))
    assert out["mrr@3"] == pytest.approx(0.25)
    assert m.catalogue_coverage(ranked, n_items=10, k=2) == pytest.approx(0.4)


def test_empty_relevant_is_zero() -> None:
    ranked = np.array([[0, 1], [1, 2]])
    rel = m.relevant_from_lists([[], [2]])
    hits = m.hit_matrix(ranked, rel)
    n_rel = np.diff(rel[0])
    assert m.recall_at_k(hits, n_rel, 2).tolist() == [0.0, 1.0]
    assert m.ndcg_at_k(hits, n_rel, 2)[0] == 0.0


def _loop_top_k(scores: Any, k: int, exclude: Any) -> Any:
    out = np.full((len(scores), k), -1, dtype=np.int64)
    for u, row in enumerate(scores):
        banned = set(exclude[1][exclude[0][u] : exclude[0][u + 1]].tolist())
        order = [int(i) for i in np.argsort(-row, kind="stable") if int(i) not in banned][:k]
        out[u, : len(order)] = order
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("block", [1, 7, 1 << 22])
def test_top_k_from_scores_is_a_stable_sort_without_excluded_items(
    seed: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(m, "_BLOCK", block)  # one row, a few rows, all rows per block
    rng = np.random.default_rng(seed)
    n_users, n_items = 50, 30
    scores = rng.integers(0, 6, size=(n_users, n_items)).astype(np.float32)  # many ties
    lists = [rng.choice(n_items, size=rng.integers(0, 10), replace=False) for _ in range(n_users)]
    lists[4] = np.arange(n_items - 3)  # fewer eligible items than k: padded
    lists[5] = np.arange(n_items)  # nothing eligible
    exclude = m.relevant_from_lists(lists)
    before = scores.copy()
    for k in (1, 5, 10, 40):
        got = m.top_k_from_scores(scores, k, exclude)
        np.testing.assert_array_equal(got, _loop_top_k(scores, k, exclude), err_msg=f"k={k}")
    np.testing.assert_array_equal(scores, before)  # not modified
    no_exclusion = m.relevant_from_lists([[]] * n_users)
    np.testing.assert_array_equal(
        m.top_k_from_scores(scores, 10), _loop_top_k(scores, 10, no_exclusion)
    )


def test_top_k_from_scores_edges() -> None:
    np.testing.assert_array_equal(m.top_k_from_scores([[1, 3, 2]], 2), [[1, 2]])  # ints
    assert m.top_k_from_scores(np.zeros((0, 4)), 3).shape == (0, 3)
    np.testing.assert_array_equal(m.top_k_from_scores(np.zeros((2, 0)), 2), -np.ones((2, 2)))
    with pytest.raises(ValueError, match="k must be"):
        m.top_k_from_scores(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match="matrix"):
        m.top_k_from_scores(np.zeros(3), 1)
    with pytest.raises(ValueError, match="exclude has 1 users"):
        m.top_k_from_scores(np.zeros((2, 3)), 1, m.relevant_from_lists([[0]]))


def _ranx_from_scores(scores: Any, lists: Any, exclude: Any, metric_names: list[str]) -> Any:
    ranx = pytest.importorskip("ranx")
    qrels = {f"q{u:06d}": {f"d{i}": 1 for i in rel} for u, rel in enumerate(lists)}
    run = {}
    for u, row in enumerate(scores):
        banned = set(exclude[1][exclude[0][u] : exclude[0][u + 1]].tolist())
        run[f"q{u:06d}"] = {f"d{i}": float(s) for i, s in enumerate(row) if i not in banned}
    return ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), metric_names, return_mean=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recall_ndcg_from_scores_matches_ranx(seed: int) -> None:
    """Several relevant items per user, each user's seen items excluded from the ranking."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 200, 80
    scores = rng.normal(size=(n_users, n_items))
    seen, lists = [], []
    for _ in range(n_users):
        perm = rng.permutation(n_items)
        n_seen = int(rng.integers(0, 40))
        seen.append(perm[:n_seen])
        lists.append(perm[n_seen : n_seen + int(rng.integers(1, 12))])
    exclude, rel = m.relevant_from_lists(seen), m.relevant_from_lists(lists)
    for k in (1, 5, 20):
        recall, ndcg = m.recall_ndcg_from_scores(scores, rel, k, exclude=exclude)
        ref = _ranx_from_scores(scores, lists, exclude, [f"recall@{k}", f"ndcg@{k}"])
        np.testing.assert_allclose(recall, np.asarray(ref[f"recall@{k}"]), atol=1e-9)
        np.testing.assert_allclose(ndcg, np.asarray(ref[f"ndcg@{k}"]), atol=1e-9)


def test_recall_ndcg_from_scores_n_relevant_counts_unreachable_items() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    rel = m.relevant_from_lists([[0], [2]])
    recall, ndcg = m.recall_ndcg_from_scores(scores, rel, 2)
    assert recall.tolist() == [1.0, 1.0] and ndcg.tolist() == [1.0, 1.0]
    recall, ndcg = m.recall_ndcg_from_scores(scores, rel, 2, n_relevant=[2, 1])
    assert recall.tolist() == [0.5, 1.0]
    assert ndcg[0] == pytest.approx(1.0 / (1.0 + 1.0 / np.log2(3)))
    with pytest.raises(ValueError, match="n_relevant has 1 users"):
        m.recall_ndcg_from_scores(scores, rel, 2, n_relevant=[1])
