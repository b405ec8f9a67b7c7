"""Exact top-k against a brute-force full stable sort, on random scores with ties and specials."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from engine.core.retrieval import exact
from engine.core.retrieval.exact import top_k, top_k_indices, top_k_rows


def _brute(scores: npt.NDArray[np.floating], k: int) -> npt.NDArray[np.intp]:
    return np.argsort(-scores, axis=-1, kind="stable")[..., : max(k, 0)]


def _random_scores(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: type[np.floating]
) -> npt.NDArray[np.floating]:
    """Few distinct values (many ties), and sometimes NaN, -inf, +inf and -0.0."""
    s = rng.integers(-3, 4, shape).astype(dtype)
    for special, p in ((np.nan, 0.15), (-np.inf, 0.15), (np.inf, 0.05), (-0.0, 0.1)):
        if rng.random() < 0.5:
            s[rng.random(shape) < p] = special
    return s


@pytest.fixture(params=[False, True], ids=["default", "no-full-sort"])
def partition_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Also run short vectors through the argpartition path (normally fully sorted)."""
    if request.param:
        monkeypatch.setattr(exact, "_FULL_SORT_MAX", 0)
    return bool(request.param)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_k_indices_matches_a_full_stable_sort(
    dtype: type[np.floating], partition_path: bool
) -> None:
    rng = np.random.default_rng(7)
    for _ in range(3000):
        n = int(rng.integers(0, 400 if rng.random() < 0.3 else 40))
        k = int(rng.integers(-2, n + 3))
        s = _random_scores(rng, (n,), dtype)
        got = top_k_indices(s, k)
        assert got.dtype == np.intp
        np.testing.assert_array_equal(got, _brute(s, k), err_msg=f"{s.tolist()} k={k}")


def test_top_k_indices_continuous_scores() -> None:
    rng = np.random.default_rng(1)
    for n, k in ((1000, 1), (1000, 10), (5000, 100), (200, 199), (129, 128)):
        s = rng.standard_normal(n).astype(np.float32)
        np.testing.assert_array_equal(top_k_indices(s, k), _brute(s, k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_k_rows_matches_a_full_stable_sort(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(11)
    for _ in range(400):
        m, n = int(rng.integers(0, 6)), int(rng.integers(0, 300 if rng.random() < 0.3 else 30))
        k = int(rng.integers(-2, n + 3))
        s = _random_scores(rng, (m, n), dtype)
        got = top_k_rows(s, k)
        assert got.dtype == np.intp and got.shape == (m, min(max(k, 0), n))
        np.testing.assert_array_equal(got, _brute(s, k), err_msg=f"{s.tolist()} k={k}")


def test_ties_at_the_cut_go_to_the_lower_position(partition_path: bool) -> None:
    s = np.array([1.0, 5.0, 3.0, 3.0, 3.0, 0.0, 3.0], np.float32)
    assert top_k_indices(s, 3).tolist() == [1, 2, 3]
    assert top_k_indices(s[::-1].copy(), 3).tolist() == [5, 0, 2]
    rows = np.stack([s, s[::-1]])
    assert top_k_rows(rows, 3).tolist() == [[1, 2, 3], [5, 0, 2]]
    assert top_k_indices(np.zeros(300), 4).tolist() == [0, 1, 2, 3]


def test_nan_ranks_last_and_minus_inf_is_kept(partition_path: bool) -> None:
    s = np.array([np.nan, -np.inf, 2.0, np.nan, 1.0, -np.inf], np.float32)
    assert top_k_indices(s, 6).tolist() == [2, 4, 1, 5, 0, 3]
    assert top_k_indices(s, 4).tolist() == [2, 4, 1, 5]
    assert top_k_indices(s, 5).tolist() == [2, 4, 1, 5, 0]
    assert top_k_indices(np.full(200, np.nan), 3).tolist() == [0, 1, 2]


def test_edge_cases() -> None:
    empty = np.zeros(0, np.float32)
    for k in (-1, 0, 3):
        assert top_k_indices(empty, k).tolist() == []
    s = np.array([0.5, 2.0, 1.0], np.float32)
    assert top_k_indices(s, 0).tolist() == [] and top_k_indices(s, -5).tolist() == []
    assert top_k_indices(s, 10).tolist() == [1, 2, 0]  # k >= n: everything, sorted
    assert top_k_rows(np.zeros((2, 0), np.float32), 3).shape == (2, 0)
    assert top_k_rows(np.zeros((0, 5), np.float32), 3).shape == (0, 3)
    assert top_k_rows(np.ones((2, 3), np.float32), 0).shape == (2, 0)
    assert top_k_rows(np.array([[0.0, 2.0, 1.0]]), 7).tolist() == [[1, 2, 0]]


def test_top_k_drops_non_finite_from_the_selected() -> None:
    s = np.array([1.0, -np.inf, 3.0, np.nan, 2.0, 3.0], np.float64)
    rows, vals = top_k(s, 4)
    assert rows.dtype == np.int64 and vals.dtype == np.float32
    assert rows.tolist() == [2, 5, 4, 0] and vals.tolist() == [3.0, 3.0, 2.0, 1.0]
    rows, vals = top_k(s, 10)
    assert rows.tolist() == [2, 5, 4, 0]  # -inf and NaN are never returned
    rows, vals = top_k(np.array([np.inf, 1.0, 0.0]), 1)
    assert rows.tolist() == [] and vals.tolist() == []  # +inf takes the slot, then is dropped
    assert top_k(np.zeros(0, np.float32), 3)[0].tolist() == []
    assert top_k(s, 0)[0].tolist() == []
