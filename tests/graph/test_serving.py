from pathlib import Path

import numpy as np
import pytest

from engine.core.contracts import Surface
from engine.core.pipeline.context import History, RequestContext
from graph.serving import GraphModel, GraphServing
from tests.engine.fixtures import catalog, item
from tests.engine.world import ITEMS, PHONES
from tests.graph.tiny import world_graph_model


def test_save_load_round_trip_serves_the_same(tmp_path: Path) -> None:
    c = catalog(ITEMS)
    model = world_graph_model(c)
    model.save(tmp_path / "graph")
    back = GraphModel.load(tmp_path / "graph")
    assert back.version == model.version and back.item_ids == model.item_ids
    a, b = GraphServing(model, c), GraphServing(back, c)
    np.testing.assert_allclose(a.vectors, b.vectors)
    np.testing.assert_allclose(a.item_graph.served.toarray(), b.item_graph.served.toarray())
    ctx = RequestContext("r", Surface.feed, 0.0, user_id="u1")
    np.testing.assert_allclose(a.query_vector(ctx), b.query_vector(ctx))
    with pytest.raises(FileNotFoundError, match="train-graph"):
        GraphModel.load(tmp_path / "nothing")


def test_rows_align_by_item_id_not_by_position() -> None:
    c = catalog(ITEMS)
    model = world_graph_model(c)
    shuffled = catalog([item(999, title="first in this catalog"), *reversed(ITEMS)])
    s = GraphServing(model, shuffled)
    for it in PHONES[:3]:
        src = model.item_ids.index(it.id)
        np.testing.assert_allclose(s.vectors[shuffled.row_of[it.id]], model.item_vectors[src])
    assert not s.trained[shuffled.row_of["i999"]]


def test_known_users_and_sessions_make_queries_strangers_do_not() -> None:
    c = catalog(ITEMS)
    s = GraphServing(world_graph_model(c), c)
    assert s.query_vector(RequestContext("r", Surface.feed, 0.0, user_id="u3")) is not None
    assert s.query_vector(RequestContext("r", Surface.feed, 0.0, user_id="stranger")) is None
    hist = History(np.array([0, 1], np.int64), np.ones(2, np.int8), np.zeros(2))
    q = s.query_vector(RequestContext("r", Surface.feed, 0.0, session=hist))
    assert q is not None and q.shape == (s.dim,)
    rows, scores = s.top(q, 5, exclude=np.array([0, 1], np.int64))
    assert 0 not in rows and 1 not in rows and np.all(np.diff(scores) <= 0)
