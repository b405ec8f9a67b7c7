import numpy as np

from engine.core.pipeline.candidates import CandidatePool, SourceResult


def _res(name: str, rows: list[int], scores: list[float]) -> SourceResult:
    return SourceResult(name, np.array(rows, np.int64), np.array(scores, np.float32))


def test_merge_unions_and_keeps_each_source_score_and_rank() -> None:
    pool = CandidatePool.merge(
        [_res("a", [5, 3], [2.0, 1.0]), _res("b", [3, 9], [0.5, 0.4])], ("a", "b"), 100
    )
    assert pool.rows.tolist() == [3, 5, 9]
    assert pool.proposed_by(0) == {"a": 1.0, "b": 0.5}
    assert pool.proposed_by(1) == {"a": 2.0}
    assert pool.proposed_by(2) == {"b": pytest_approx(0.4)}
    assert np.isnan(pool.source_ranks[2, 0]) and pool.source_ranks[2, 1] == 1.0


def pytest_approx(v: float) -> float:
    return float(np.float32(v))


def test_merge_over_limit_keeps_best_ranked_in_any_source() -> None:
    a = _res("a", list(range(10)), list(np.linspace(1, 0, 10)))
    b = _res("b", list(range(100, 110)), list(np.linspace(1, 0, 10)))
    pool = CandidatePool.merge([a, b], ("a", "b"), 4)
    assert sorted(pool.rows.tolist()) == [0, 1, 100, 101]


def test_merge_of_nothing_is_empty_with_all_source_columns() -> None:
    pool = CandidatePool.merge([SourceResult.empty("a")], ("a", "b"), 10)
    assert len(pool) == 0 and pool.source_scores.shape == (0, 2)


def test_with_rows_adds_unproposed_rows_with_nan_scores() -> None:
    pool = CandidatePool.merge([_res("a", [1, 2], [1.0, 0.5])], ("a",), 10)
    more = pool.with_rows(np.array([2, 7, 7], np.int64))
    assert more.rows.tolist() == [1, 2, 7]
    assert np.isnan(more.source_scores[2, 0])
    assert pool.with_rows(np.array([1], np.int64)) is pool
