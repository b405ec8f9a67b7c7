from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from engine.core.contracts import Event, EventType, FeedRequest, Surface
from engine.core.pipeline.context import KIND_PURCHASE, History, RequestContext
from engine.serving.models import ModelHolder
from engine.serving.sources.graph import BoughtTogetherSource, GraphSource
from tests.engine.fixtures import T0, item
from tests.engine.world import BACKENDS, CASES, DECOR, PHONES, close_engine, make_engine
from tests.graph.tiny import world_graph

LATER = T0 + timedelta(days=3)


def _bought(rows: list[int]) -> RequestContext:
    n = len(rows)
    hist = History(np.asarray(rows, np.int64), np.full(n, KIND_PURCHASE, np.int8), np.zeros(n))
    return RequestContext("r", Surface.feed, LATER.timestamp(), user_id="u1", user_history=hist)


def _event(kind: EventType, item_id: str, session: str, minutes: int) -> Event:
    return Event(
        type=kind, ts=LATER + timedelta(minutes=minutes), session_id=session, item_id=item_id
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_after_buying_a_phone_the_feed_offers_its_cases(tmp_path: Path, backend: str) -> None:
    engine = await make_engine(tmp_path, backend=backend, graph=world_graph)
    try:
        g = engine.graph
        assert g is not None
        phone = engine.catalog.row_of[PHONES[1].id]
        cases = {engine.catalog.row_of[c.id] for c in CASES}
        top = await BoughtTogetherSource(ModelHolder("graph", g)).fetch(_bought([phone]), 20)
        assert set(top.rows[: len(cases)].tolist()) == cases  # the cases first, then phones
        await engine.events.record([_event(EventType.purchase, PHONES[1].id, "s-buyer", 0)])
        resp = await engine.rank(FeedRequest(session_id="s-buyer", explain=True))
        by_source = {
            r.id: set(r.explanation.sources) for r in resp.items if r.explanation is not None
        }
        assert any("bought_together" in by_source.get(c.id, set()) for c in CASES)
        assert any("graph" in s for s in by_source.values())
        assert PHONES[1].id not in by_source  # already bought
    finally:
        await close_engine(engine)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_new_pairs_update_bought_together_without_a_retrain(
    tmp_path: Path, backend: str
) -> None:
    engine = await make_engine(tmp_path, backend=backend, graph=world_graph)
    try:
        g = engine.graph
        assert g is not None
        new = item(
            950,
            title="Nova phone screen protector glass",
            category=("Electronics", "Phones", "Screen"),
        )
        rep = await engine.writes.upsert([new])
        assert rep.applied == ["i950"]
        row_new = engine.catalog.row_of["i950"]
        row_vase = engine.catalog.row_of[DECOR[2].id]
        src = BoughtTogetherSource(ModelHolder("graph", g))
        before = await src.fetch(_bought([row_vase]), 20)
        assert row_new not in before.rows.tolist()
        # shoppers start buying the protector right after a vase (an odd pair: only new events
        # can have taught it)
        events = []
        for s in range(5):
            events += [
                _event(EventType.purchase, DECOR[2].id, f"s-new{s}", s * 10),
                _event(EventType.purchase, "i950", f"s-new{s}", s * 10 + 1),
            ]
        await engine.events.record(events)
        after = await src.fetch(_bought([row_vase]), 20)
        assert after.rows[0] == row_new
    finally:
        await close_engine(engine)


async def test_a_new_item_gets_a_graph_vector_from_its_content(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, graph=world_graph)
    try:
        g = engine.graph
        assert g is not None
        new = item(
            960,
            title="Protective phone case midnight",
            category=("Electronics", "Phones", "Cases"),
            brand="shield",
            price=17,
        )
        await engine.writes.upsert([new])
        row = engine.catalog.row_of["i960"]
        assert not g.trained[row] and np.linalg.norm(g.vectors[row]) > 0
        cases = [engine.catalog.row_of[c.id] for c in CASES]
        vases = [engine.catalog.row_of[d.id] for d in DECOR]
        v = g.vectors[row]

        def cos(rows: list[int]) -> float:
            m = g.vectors[rows]
            return float(np.mean(m @ v / (np.linalg.norm(m, axis=1) * np.linalg.norm(v))))

        assert cos(cases) > cos(vases) + 0.3
        # and the graph source ranks it for a shopper of cases, above every vase
        src = GraphSource(ModelHolder("graph", g))
        hist = History(np.asarray(cases[:3], np.int64), np.full(3, 1, np.int8), np.zeros(3))
        ctx = RequestContext("r", Surface.feed, LATER.timestamp(), session=hist)
        ranked = (await src.fetch(ctx, len(engine.catalog))).rows.tolist()
        assert row in ranked
        assert all(ranked.index(row) < ranked.index(v) for v in vases if v in ranked)
    finally:
        await close_engine(engine)


async def test_anonymous_sessions_reach_the_graph_through_their_items(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, graph=world_graph)
    try:
        g = engine.graph
        assert g is not None
        vases = [engine.catalog.row_of[d.id] for d in DECOR]
        hist = History(np.asarray(vases[:2], np.int64), np.ones(2, np.int8), np.zeros(2))
        ctx = RequestContext("r", Surface.feed, LATER.timestamp(), session=hist)
        res = await GraphSource(ModelHolder("graph", g)).fetch(ctx, 4)
        assert set(res.rows.tolist()) <= set(vases)
        empty = RequestContext("r", Surface.feed, LATER.timestamp())
        assert len((await GraphSource(ModelHolder("graph", g)).fetch(empty, 4)).rows) == 0
    finally:
        await close_engine(engine)


async def test_without_a_graph_model_both_sources_are_off(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path)
    try:
        names = {s.source.name: s.source for s in engine.spec.sources}
        assert names["graph"].surfaces == frozenset()
        assert names["bought_together"].surfaces == frozenset()
        resp = await engine.rank(FeedRequest(session_id="s1", explain=True))
        assert not resp.degraded
    finally:
        await close_engine(engine)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_item_page_gets_what_is_bought_with_it(tmp_path: Path, backend: str) -> None:
    """An item page asks the feed with the page's item as context (``session_items``)."""
    engine = await make_engine(tmp_path, backend=backend, graph=world_graph)
    try:
        resp = await engine.rank(
            FeedRequest(session_items=[PHONES[1].id], explain=True, page_size=40)
        )
        proposed = {
            r.id
            for r in resp.items
            if r.explanation is not None and "bought_together" in r.explanation.sources
        }
        assert {c.id for c in CASES} <= proposed, proposed
    finally:
        await close_engine(engine)
