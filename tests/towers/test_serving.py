from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.context import History, RequestContext
from tests.engine.world import ITEMS
from tests.towers.tiny import tiny_towers
from towers.requests import query_inputs
from towers.serving import TowerServing


def _catalog() -> Catalog:
    c = Catalog()
    c.upsert(ITEMS)
    return c


def test_item_and_query_vectors_are_unit_and_of_the_model_dim(tmp_path: Path) -> None:
    c = _catalog()
    s = tiny_towers(tmp_path, c, dim=8)
    vecs = s.vectors_of(np.arange(len(c)))
    assert vecs.shape == (len(c), 8)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    hist = History(np.array([0, 1]), np.ones(2, np.int8), np.zeros(2))
    for ctx in (
        RequestContext("a", Surface.feed, 0.0),  # nobody, nothing: still a vector
        RequestContext("b", Surface.search, 0.0, query="phone", user_id="u", user_history=hist),
    ):
        q = s.query_vector(query_inputs(ctx, s.cfg))
        assert q.shape == (8,) and abs(float(np.linalg.norm(q)) - 1) < 1e-5


def test_rows_without_a_vector_are_left_out_not_zero(tmp_path: Path) -> None:
    c = _catalog()
    s = tiny_towers(tmp_path, c)
    assert s.vector(10_000) is None
    got = s.vectors_of(np.array([0, -1, 10_000, 1]))
    np.testing.assert_allclose(got, s.vectors_of(np.array([0, 1])))
    assert s.missing(len(c) + 2).tolist() == [len(c), len(c) + 1]


def test_saved_vectors_reload_by_id_into_a_reordered_catalog(tmp_path: Path) -> None:
    c = _catalog()
    s = tiny_towers(tmp_path, c)
    s.save_vectors(c)
    other = Catalog()
    other.upsert(list(reversed(ITEMS)))
    again = TowerServing.load(tmp_path, None, 20, s.version)
    assert again.load_vectors(other) == len(ITEMS)
    for it in ITEMS[:5]:
        np.testing.assert_allclose(
            again.vector(other.row_of[it.id]), s.vector(c.row_of[it.id]), atol=1e-6
        )
    assert len(again.missing(len(other))) == 0


def test_vector_state_counts_full_provisional_missing_and_ages(tmp_path: Path) -> None:
    c = _catalog()
    s = tiny_towers(tmp_path, c)  # every row embedded in full
    n = len(c)
    before = s.vector_state(c)
    assert (before["full"], before["provisional"], before["missing"]) == (n, 0, 0)
    assert before["share_without_full_vector"] == 0.0 and before["model"] == s.version
    s.ensure(c, np.array([0, 1], np.int64), provisional=True)
    assert c.delete(c.ids[2], 99)  # a deleted item is not counted
    c.upsert([ITEMS[0].model_copy(update={"id": "brand-new", "version": 1})])  # no vector yet
    state = s.vector_state(c, now=time.time() + 3600)
    assert (state["full"], state["provisional"], state["missing"]) == (n - 3, 2, 1)
    assert state["items"] == n and state["share_without_full_vector"] == round(3 / n, 5)
    assert 3600 <= state["age_s"]["p50"] <= state["age_s"]["max"] < 3600 + 600
