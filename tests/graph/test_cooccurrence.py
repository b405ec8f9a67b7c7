import numpy as np
import pytest

from graph.cooccurrence import Events, ItemGraph, ItemGraphParams

DAY = 86_400.0
CLICK, CART, BUY = 1, 2, 3


def _events(rows: list[tuple[int, int, int, float]]) -> Events:
    a = np.array(rows, dtype=np.float64)
    return Events(
        a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64), a[:, 3]
    )


def _world(seed: int = 0) -> Events:
    """Buyers of a phone (0..4) buy a case (10..14) of the same index a few days later; clicks
    on random items in between."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(300):
        t = float(rng.uniform(0, 20 * DAY))
        phone = int(rng.integers(0, 5))
        rows.append((user, phone, BUY, t))
        for j in range(3):
            rows.append((user, int(rng.integers(20, 60)), CLICK, t + (j + 1) * 3600))
        rows.append((user, 10 + phone, BUY, t + float(rng.uniform(1, 4)) * DAY))
    return _events(rows)


def test_a_phone_brings_its_case_first() -> None:
    g = ItemGraph.build(_world(), 60)
    for phone in range(5):
        items, scores = g.neighbors(np.array([phone]), np.ones(1, np.float32), 3)
        assert items[0] == 10 + phone
        assert np.all(np.diff(scores) <= 0)


def test_direction_and_horizon() -> None:
    p = ItemGraphParams(backward=0.25, horizon=2 * DAY)
    ev = _events([(0, 1, BUY, 0.0), (0, 2, BUY, DAY), (1, 3, BUY, 0.0), (1, 4, BUY, 3 * DAY)])
    g = ItemGraph.build(ev, 5, p)
    assert g.counts[1, 2] == pytest.approx(4 * g.counts[2, 1])
    assert g.counts[3, 4] == 0  # three days apart: beyond the horizon


def test_incremental_batches_equal_one_build() -> None:
    ev = _world(1)
    order = np.argsort(ev.ts)
    ev = ev.select(order)
    whole = ItemGraph.build(ev, 60)
    inc = ItemGraph(60, t0=float(ev.ts.min()))
    for part in np.array_split(np.arange(len(ev.ts)), 7):
        inc.add(ev.select(part))
    np.testing.assert_allclose(inc.counts.toarray(), whole.counts.toarray(), rtol=1e-9)
    np.testing.assert_allclose(inc.freq, whole.freq, rtol=1e-9)


def test_a_new_purchase_pair_shows_up_after_one_add() -> None:
    g = ItemGraph.build(_world(2), 60)
    assert g.neighbors(np.array([70]), np.ones(1, np.float32), 5)[0].size == 0
    t = 30 * DAY
    touched = g.add(_events([(900, 70, BUY, t), (900, 71, BUY, t + 3600)]))
    assert g.n_items == 72
    assert 70 in touched.tolist()
    items, _ = g.neighbors(np.array([70]), np.ones(1, np.float32), 5)
    assert items.tolist() == [71]
    # a user's earlier batch is remembered: a later purchase pairs with it
    g.add(_events([(900, 72, BUY, t + 7200)]))
    assert 72 in g.neighbors(np.array([71]), np.ones(1, np.float32), 5)[0].tolist()


def test_recent_pairs_outweigh_old_ones() -> None:
    ev = _events(
        [(0, 1, BUY, 0.0), (0, 2, BUY, 10.0), (1, 1, BUY, 60 * DAY), (1, 3, BUY, 60 * DAY + 10)]
    )
    g = ItemGraph.build(ev, 4)
    items, _ = g.neighbors(np.array([1]), np.ones(1, np.float32), 2)
    assert items.tolist() == [3, 2]


def test_mismatched_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        Events(np.zeros(2, np.int64), np.zeros(1, np.int64), np.zeros(2, np.int64), np.zeros(2))
