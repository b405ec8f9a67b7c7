from __future__ import annotations

import numpy as np

from engine.core.segment import Segment
from towers.data import query_batch, sequence_examples
from towers.retrieval import top_k


def _examples() -> object:
    indptr = np.array([0, 3, 5])
    items = np.array([4, 1, 2, 0, 3])
    return sequence_examples(indptr, items, np.array([2, 1]), np.array([0, 1]))


def test_query_batch_orders_history_most_recent_first() -> None:
    ex = _examples()
    b = query_batch(ex, np.array([0, 1]), max_history=3, max_session=2, text_dim=4)  # type: ignore[arg-type]
    assert b.history.tolist() == [[1, 4, -1], [0, -1, -1]]
    assert b.session.tolist() == [[-1], [-1]]
    assert ex.target.tolist() == [2, 3]  # type: ignore[attr-defined]
    assert b.segment.tolist() == [int(Segment.weak)] * 2
    assert not b.has_query.any()


def test_top_k_excludes_the_history_and_sorts() -> None:
    ex = _examples()
    items = np.eye(5, dtype=np.float32)
    queries = np.array([[0.1, 0.9, 0.8, 0.2, 0.95], [0.9, 0.1, 0.2, 0.3, 0.0]], np.float32)
    ranked = top_k(queries, items, ex, 3)  # type: ignore[arg-type]
    assert ranked[0].tolist() == [2, 3, 0]  # 4 and 1 are in user 0's history
    assert ranked[1].tolist() == [3, 2, 1]  # 0 is in user 1's history


def test_top_k_ties_by_lower_row_and_pads_past_the_catalogue() -> None:
    ex = _examples()
    items = np.eye(5, dtype=np.float32)
    queries = np.array([[0.5, 0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
    ranked = top_k(queries, items, ex, 7)  # type: ignore[arg-type]
    # history items rank last (at -inf), in row order too; no items are left past the 5th
    assert ranked[0].tolist() == [0, 2, 3, 1, 4, -1, -1]
    assert ranked[1].tolist() == [1, 2, 3, 4, 0, -1, -1]
    assert top_k(queries, items, ex, 2, exclude_history=False).tolist() == [[0, 1], [0, 1]]  # type: ignore[arg-type]
