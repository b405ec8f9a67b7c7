"""Co-visitation index on hand-made sessions whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from engine.core.retrieval.covisitation import (
    CovisitationIndex,
    CoVisits,
    CovisParams,
    csr_topk,
    weighted_neighbors,
)

# two sessions: 0 -> 1 -> 2 and 0 -> 1 ; items 0..3 (3 never seen)
SESS = np.array([7, 7, 7, 9, 9])
ITEMS = np.array([0, 1, 2, 0, 1])
TS = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
ONES = np.ones(5)


def _dense(idx: CovisitationIndex) -> np.ndarray:
    return np.asarray(idx.matrix.todense())


def test_symmetric_counts_window_1() -> None:
    p = CovisParams(window=1, normalize="none", top_n=10)
    m = _dense(CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p))
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 2  # both sessions
    expected[1, 2] = expected[2, 1] = 1
    np.testing.assert_allclose(m, expected)


def test_directional_window_and_gap_decay() -> None:
    p = CovisParams(window=2, backward_weight=0.25, gap_decay=0.5, normalize="none", top_n=10)
    m = _dense(CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p))
    assert m[0, 1] == pytest.approx(2.0) and m[1, 0] == pytest.approx(0.5)
    assert m[0, 2] == pytest.approx(0.5) and m[2, 0] == pytest.approx(0.125)


def test_event_order_and_weights() -> None:
    # shuffled input gives the same index; the later event's weight goes forward
    perm = np.array([4, 2, 0, 3, 1])
    w = np.array([1.0, 6.0, 1.0, 1.0, 3.0])
    p = CovisParams(window=1, backward_weight=0.0, normalize="none", top_n=10)
    a = _dense(CovisitationIndex.build(SESS, ITEMS, TS, w, 4, p))
    b = _dense(CovisitationIndex.build(SESS[perm], ITEMS[perm], TS[perm], w[perm], 4, p))
    np.testing.assert_allclose(a, b)
    assert a[0, 1] == pytest.approx(6.0 + 3.0) and a[1, 2] == pytest.approx(1.0)


def test_half_life_decay() -> None:
    p = CovisParams(
        window=1, half_life=1.0, reference_time=3.0, backward_weight=0.0, normalize="none", top_n=10
    )
    m = _dense(CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p))
    assert m[0, 1] == pytest.approx(2 * 0.5)  # target events at ts=2, one half-life old
    assert m[1, 2] == pytest.approx(1.0)


def test_cosine_and_row_normalisation() -> None:
    p = CovisParams(window=1, normalize="cosine", top_n=10)
    m = _dense(CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p))
    assert m[0, 1] == pytest.approx(2 / np.sqrt(2 * 2))
    assert m[1, 2] == pytest.approx(1 / np.sqrt(2 * 1))
    r = _dense(
        CovisitationIndex.build(
            SESS, ITEMS, TS, ONES, 4, CovisParams(window=1, normalize="row", top_n=10)
        )
    )
    np.testing.assert_allclose(r.sum(axis=1), [1, 1, 1, 0])


def test_neighbors_query_exclude_and_batch() -> None:
    p = CovisParams(window=2, normalize="none", top_n=10)
    idx = CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p)
    rows, scores = idx.neighbors(np.array([0]), np.array([1.0]), k=5)
    assert rows.tolist() == [1, 2] and scores.tolist() == [2.0, 1.0]
    rows, scores = idx.neighbors(np.array([0, 2]), np.array([1.0, 0.5]), k=5, exclude=[0])
    assert rows.tolist() == [1, 2]
    assert scores.tolist() == pytest.approx([2.0 + 0.5, 1.0])
    q = sp.csr_matrix(np.array([[1.0, 0, 0.5, 0], [0, 0, 0, 0]]))
    ex = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))
    out = idx.neighbors_batch(q, 1, ex)
    assert out.indices.tolist() == [1] and out.indptr.tolist() == [0, 1, 1]


def test_weighted_neighbors_ties_go_to_the_lower_item_row() -> None:
    # one query row over 300 columns, all tied but two: the cut keeps the lowest tied columns
    vals = np.ones(300, np.float32)
    vals[[250, 7]] = [3.0, 2.0]
    m = sp.csr_matrix(vals[None, :])
    rows, scores = weighted_neighbors(m, [0], [1.0], k=5, exclude=[0, 2])
    assert rows.tolist() == [250, 7, 1, 3, 4] and scores.tolist() == [3.0, 2.0, 1.0, 1.0, 1.0]
    assert weighted_neighbors(m, [0], [1.0], k=0)[0].tolist() == []


def test_csr_topk_keeps_best_sorted() -> None:
    m = sp.csr_matrix(np.array([[0.1, 0.5, 0.3, 0.0], [0, 0, 0, 0], [2.0, 2.0, 1.0, 3.0]]))
    out = csr_topk(m, 2)
    assert out.indptr.tolist() == [0, 2, 2, 4]
    assert out.indices.tolist() == [1, 2, 3, 0]  # ties broken by column
    assert out.data.tolist() == [0.5, 0.3, 3.0, 2.0]


def test_save_load_roundtrip(tmp_path: Path) -> None:
    p = CovisParams(window=2, half_life=5.0, backward_weight=0.5, normalize="cosine", top_n=3)
    idx = CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p)
    idx.save(tmp_path / "c.npz")
    back = CovisitationIndex.load(tmp_path / "c.npz")
    assert back.params == p
    np.testing.assert_allclose(_dense(back), _dense(idx))


def test_pair_scores_and_into_read_single_cells() -> None:
    p = CovisParams(window=2, backward_weight=0.5, normalize="none", top_n=3)
    idx = CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, p)
    dense = _dense(idx)
    cols = np.array([3, 2, 0, 1, 2])
    np.testing.assert_allclose(idx.pair_scores(0, cols), dense[0, cols])
    np.testing.assert_allclose(idx.into(cols, 1), dense[cols, 1])
    assert idx.pair_scores(0, cols)[1] > 0 and idx.pair_scores(2, cols)[1] == 0  # no self pair
    assert idx.pair_scores(99, cols).tolist() == [0.0] * 5  # a row added after the build
    assert idx.into(cols, -1).tolist() == [0.0] * 5


def test_the_tables_save_and_load_together(tmp_path: Path) -> None:
    sym = CovisitationIndex.build(SESS, ITEMS, TS, ONES, 4, CovisParams(window=2))
    seq = CovisitationIndex.build(
        SESS, ITEMS, TS, ONES, 4, CovisParams(window=2, backward_weight=0.0, normalize="none")
    )
    basket = CovisitationIndex.build(
        SESS, ITEMS, TS, ONES, 4, CovisParams(window=200, normalize="none")
    )
    assert CoVisits.load(tmp_path) is None
    CoVisits(sym, seq, basket=basket).save(tmp_path)
    back = CoVisits.load(tmp_path)
    assert back is not None and back.sequential is not None and back.basket is not None
    np.testing.assert_allclose(_dense(back.sequential), _dense(seq))
    np.testing.assert_allclose(_dense(back.basket), _dense(basket))
    (tmp_path / "basket.npz").unlink()  # a model directory from before the basket table
    before_basket = CoVisits.load(tmp_path)
    assert before_basket is not None and before_basket.basket is None
    (tmp_path / "sequence.npz").unlink()  # a model directory from before the sequential table
    old = CoVisits.load(tmp_path)
    assert old is not None and old.sequential is None
    np.testing.assert_allclose(_dense(old.symmetric), _dense(sym))


def test_a_window_wider_than_every_session_pairs_whole_sessions() -> None:
    wide = CovisitationIndex.build(
        SESS, ITEMS, TS, ONES, 4, CovisParams(window=500, normalize="none")
    )
    exact = CovisitationIndex.build(
        SESS, ITEMS, TS, ONES, 4, CovisParams(window=2, normalize="none")
    )
    np.testing.assert_allclose(_dense(wide), _dense(exact))  # the longest session has 3 events
    assert _dense(wide)[0, 2] == 1.0 and _dense(wide)[0, 1] == 2.0
    assert wide.row_max(0) == 2.0 and wide.row_max(3) == 0.0  # item 3 has no partner
    assert wide.row_max(-1) == 0.0 and wide.row_max(99) == 0.0  # outside the table
