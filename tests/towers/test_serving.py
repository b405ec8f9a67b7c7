from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.catalog import Catalog
from engine.contracts import Surface
from engine.pipeline.context import History, RequestContext
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
