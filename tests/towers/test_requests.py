from __future__ import annotations

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import History, RequestContext
from engine.core.segment import Segment
from towers.data import query_batch
from towers.model import TowerConfig
from towers.requests import examples_of, query_inputs
from towers.text import TEXT_DIM, TextEncoder

CFG = TowerConfig(max_history=3, max_session=2)


def _hist(rows: list[int]) -> History:
    n = len(rows)
    return History(np.array(rows, np.int64), np.ones(n, np.int8), np.arange(n, dtype=np.float64))


def test_an_anonymous_visitor_has_no_history_but_keeps_the_session() -> None:
    ctx = RequestContext(
        "r", Surface.feed, 0.0, user_history=_hist([1, 2]), session=_hist([7, 8, 9])
    )
    qi = query_inputs(ctx, CFG)
    assert len(qi.history) == 0 and not qi.has_user
    assert qi.session.tolist() == [8, 9]  # the most recent max_session, oldest first
    assert qi.segment == Segment.anonymous and qi.surface == 0


def test_a_known_user_on_search() -> None:
    ctx = RequestContext(
        "r",
        Surface.search,
        0.0,
        query="  red kettle ",
        user_id="u1",
        user_history=_hist([1, 2, 3, 4, 5]),
    )
    qi = query_inputs(ctx, CFG)
    assert qi.history.tolist() == [3, 4, 5] and qi.query == "red kettle" and qi.surface == 1
    # the segment of the whole history (5 items), not of the 3 the tower reads
    assert qi.segment == Segment.heavy


def test_examples_carry_each_request_as_serving_sees_it() -> None:
    known = RequestContext(
        "a", Surface.search, 0.0, query="kettle", user_id="u", user_history=_hist([4, 5])
    )
    anon = RequestContext("b", Surface.feed, 0.0, session=_hist([6]))
    inputs = [query_inputs(known, CFG), query_inputs(anon, CFG)]
    enc = TextEncoder(None)
    ex = examples_of(inputs, np.array([10, 11]), enc, TEXT_DIM)
    b = query_batch(ex, np.arange(2), max_history=3, max_session=2, text_dim=TEXT_DIM)
    assert b.history.tolist() == [[5, 4, -1], [-1, -1, -1]]  # most recent first
    assert b.session.tolist() == [[-1, -1], [6, -1]]
    assert b.has_query.tolist() == [True, False]
    np.testing.assert_allclose(b.query_text[0], enc.encode_query("kettle"), atol=1e-6)
    assert not b.query_text[1].any()
    assert b.segment.tolist() == [int(Segment.weak), int(Segment.anonymous)]
    assert b.context[:, 0].tolist() == [1, 0]
    assert ex.target.tolist() == [10, 11]
