"""Popularity index on hand-made events whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.retrieval.popularity import PopularityIndex, PopularityParams

# item 0: steady (one event a day for 20 days); item 1: 3 events today; item 2: 10 long ago
ITEMS = np.array([0] * 20 + [1] * 3 + [2] * 10)
TS = np.concatenate([np.arange(20.0), [19.0, 19.0, 19.0], np.zeros(10)])
W = np.ones(len(ITEMS))
CATS = np.array([0, 1, 1, 0])


def _index() -> PopularityIndex:
    p = PopularityParams(half_life=None, short_half_life=1.0, long_half_life=10.0, alpha=1.0)
    return PopularityIndex.build(ITEMS, TS, W, 4, p, categories=CATS)


def test_global_counts_and_exclude() -> None:
    idx = _index()
    rows, scores = idx.top(3)
    assert rows.tolist() == [0, 2, 1] and scores.tolist() == [20, 10, 3]
    mask = np.array([True, False, False, False])
    assert idx.top(2, exclude=mask)[0].tolist() == [2, 1]


def test_half_life() -> None:
    p = PopularityParams(half_life=1.0)
    idx = PopularityIndex.build([0, 0, 1], [0.0, 1.0, 2.0], [1.0, 1.0, 1.0], 2, p)
    assert idx.scores["popular"].tolist() == pytest.approx([0.25 + 0.5, 1.0])


def test_trending_prefers_heating_items() -> None:
    idx = _index()
    rows, _ = idx.top(4, kind="trending")
    assert rows[0] == 1  # burst today
    assert rows[-1] in (2, 3)  # old or absent
    s = idx.scores["trending"]
    assert s[3] == pytest.approx(1.0)  # no events: smoothing gives exactly 1
    assert s[2] < 1.0 < s[1]


def test_per_category() -> None:
    idx = _index()
    assert idx.top_in_category(1, 5)[0].tolist() == [2, 1]
    assert idx.top_in_category(0, 5)[0].tolist() == [0, 3]
    assert idx.top_in_category(1, 5, exclude=np.array([0, 0, 1, 0], bool))[0].tolist() == [1]
    assert len(idx.top_in_category(9, 5)[0]) == 0


def test_save_load(tmp_path: Path) -> None:
    idx = _index()
    idx.save(tmp_path / "p.npz")
    back = PopularityIndex.load(tmp_path / "p.npz")
    for kind in ("popular", "trending"):
        np.testing.assert_allclose(back.scores[kind], idx.scores[kind])
    assert back.top_in_category(1, 5)[0].tolist() == [2, 1]
