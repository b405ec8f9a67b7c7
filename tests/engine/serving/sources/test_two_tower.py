from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.core.arrays import F32
from engine.core.catalog import Catalog
from engine.core.contracts import FeedRequest, SearchRequest, Surface
from engine.core.pipeline.context import RequestContext
from engine.core.search import Hits, IndexDoc, SearchFilter, SearchIndex
from engine.core.settings import Settings
from engine.serving.models import ModelHolder, ServedModels
from engine.serving.pipelines import build_spec
from engine.serving.sources.registry import TRADITIONAL
from engine.serving.sources.two_tower import TwoTowerSource
from engine.serving.writes import OWED_VECTORS_FILE
from tests.engine.fixtures import item
from tests.engine.world import BACKENDS, SEARCH_BACKENDS, close_engine, make_engine
from tests.towers.tiny import tiny_towers
from towers.requests import query_inputs
from towers.serving import TowerServing


def _ctx(query: str = "", surface: Surface = Surface.feed) -> RequestContext:
    return RequestContext("r1", surface, 0.0, query=query)


class _Recording:
    """Wraps an index: records the model asked for, and runs a hook inside the search."""

    def __init__(self, inner: SearchIndex, during: Callable[[], None]) -> None:
        self.inner = inner
        self.models: list[str] = []
        self.during = during

    async def vector(
        self, query: F32, k: int, flt: SearchFilter | None = None, model: str = ""
    ) -> Hits:
        self.models.append(model)
        self.during()
        await asyncio.sleep(0)
        return await self.inner.vector(query, k, flt, model)


@pytest.mark.parametrize("backend", SEARCH_BACKENDS)
async def test_a_request_reads_only_vectors_of_its_model(tmp_path: Path, backend: str) -> None:
    holder: dict[str, TowerServing] = {}

    def towers(catalog: Catalog) -> TowerServing:
        holder["a"] = tiny_towers(tmp_path / "towers", catalog, seed=1)
        holder["b"] = tiny_towers(tmp_path / "towers", catalog, seed=2)
        return holder["a"]

    engine = await make_engine(tmp_path, backend=backend, towers=towers)
    try:
        a, b = holder["a"], holder["b"]
        assert a.version != b.version
        ctx = _ctx("phone case")
        q = a.query_vector(query_inputs(ctx, a.cfg))
        # A decoy tagged with the other model whose vector is the query itself: the best
        # possible inner product, and it must never be returned to a model-a request.
        decoy = engine.catalog.index_doc(0)
        await engine.index.upsert(
            [
                IndexDoc(
                    id="decoy",
                    version=1,
                    text="decoy",
                    category=decoy.category,
                    brand=decoy.brand,
                    seller_id=decoy.seller_id,
                    price=decoy.price,
                    in_stock=True,
                    created_at=decoy.created_at,
                    vector=q,
                    vector_model=b.version,
                )
            ]
        )
        await engine.index.refresh()
        src = TwoTowerSource(engine.index, engine.catalog, ModelHolder("towers", a))
        res = await src.fetch(ctx, 50)
        assert len(res.rows) == len(engine.catalog)  # every item has a model-a vector
        hits = await engine.index.vector(q, 50, model=a.version)
        assert "decoy" not in hits.ids
        other = await engine.index.vector(q, 5, model=b.version)
        assert other.ids[:1] == ["decoy"]  # the decoy is there, for its own model only
    finally:
        await close_engine(engine)


async def test_a_rollout_during_a_request_does_not_mix_versions(tmp_path: Path) -> None:
    holder: dict[str, TowerServing] = {}

    def towers(catalog: Catalog) -> TowerServing:
        holder["a"] = tiny_towers(tmp_path / "towers", catalog, seed=1)
        holder["b"] = tiny_towers(tmp_path / "towers", catalog, seed=2)
        return holder["a"]

    engine = await make_engine(tmp_path, towers=towers)
    try:
        held = ModelHolder("towers", holder["a"])
        src = TwoTowerSource(engine.index, engine.catalog, held)

        def swap() -> None:  # the new model is published while this request is searching
            held.swap(holder["b"])

        rec = _Recording(engine.index, swap)
        src.index = rec  # type: ignore[assignment]
        await src.fetch(_ctx(), 10)
        assert rec.models == [holder["a"].version]
        assert held.current is holder["b"]
        await src.fetch(_ctx(), 10)
        assert rec.models == [holder["a"].version, holder["b"].version]
    finally:
        await close_engine(engine)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_new_item_is_served_provisional_then_full(tmp_path: Path, backend: str) -> None:
    """A new text: indexed at once for lexical search and with a provisional vector (from its
    attributes) for two-tower retrieval; the lane then writes its full vector as the same
    version; a later change with the same text gets the full vector in the batch."""
    engine = await make_engine(
        tmp_path, backend=backend, towers=lambda c: tiny_towers(tmp_path / "towers", c)
    )
    try:
        towers = engine.towers
        assert towers is not None
        new = item(
            900,
            title=f"Folding camping chair with cup holder {uuid.uuid4().hex}",  # never embedded
            category=("Outdoor", "Camping"),
            brand="brand-never-seen",
        )
        rep = await engine.writes.upsert([new])
        assert rep.applied == ["i900"] and not rep.pending
        row = engine.catalog.row_of["i900"]
        assert (await engine.index.lexical("camping chair", 3)).ids[0] == "i900"
        first = towers.vector(row)
        assert first is not None and towers.is_provisional(row)
        hits = await engine.index.vector(first, 1, model=towers.version)
        assert hits.ids == ["i900"]  # eligible for two-tower retrieval in its batch
        assert engine.writes.backlog == 1  # the lane owes its full vector
        state = towers.vector_state(engine.catalog)
        assert (state["provisional"], state["missing"]) == (1, 0)
        await engine.writes.worker.drain()
        # the checkpoint passes it: what the lane owes is saved beside the log instead
        assert engine.writes.ingest_log.checkpoint == engine.writes.ingest_log.next_offset
        owed_file = engine.settings.ingest_path / OWED_VECTORS_FILE
        assert [r[0] for r in json.loads(owed_file.read_text())["owed"]] == ["i900"]
        text = engine.metrics.render().decode()
        assert 'shopnow_freshness_seconds_count{source="two_tower"} 1.0' in text  # the batch's
        assert 'shopnow_freshness_seconds_count{source="two_tower_full"}' not in text

        assert await engine.writes.drain() == 0
        assert towers.vector_state(engine.catalog)["provisional"] == 0
        full = towers.vector(row)
        assert full is not None and not towers.is_provisional(row)
        assert abs(float(np.linalg.norm(full)) - 1.0) < 1e-5
        assert float(full @ first) < 0.9999  # the text moved it
        hits = await engine.index.vector(full, 1, model=towers.version)
        assert hits.ids == ["i900"]  # the full vector replaced the provisional one
        assert await engine.index.versions(["i900"]) == {"i900": 1}
        assert json.loads(owed_file.read_text())["owed"] == []
        text = engine.metrics.render().decode()
        assert 'shopnow_freshness_seconds_count{source="two_tower_full"} 1.0' in text  # lane

        cheaper = new.model_copy(update={"version": 2, "price": 5.0})  # same text
        rep = await engine.writes.upsert([cheaper])
        assert rep.applied == ["i900"] and engine.writes.backlog == 0  # full vector in the batch
        assert not towers.is_provisional(row)
        assert (await engine.index.vector(full, 1, model=towers.version)).ids == ["i900"]
        assert await engine.index.versions(["i900"]) == {"i900": 2}
        # A new query text costs ~20 ms of MiniLM on an idle core, more on a loaded test
        # machine: embed it first, as the LRU does for head queries, so the deadline holds.
        towers.query_encoder.encode(["camping chair"])
        resp = await engine.rank(SearchRequest(query="camping chair", page_size=20, explain=True))
        assert not resp.degraded, resp.degraded_reasons
        assert resp.explain is not None
        ran = {t.stage: t.status for t in resp.explain.stages}
        assert ran.get("two_tower") == "ok"
    finally:
        await close_engine(engine)


async def test_owed_full_vectors_are_owed_again_after_a_restart(tmp_path: Path) -> None:
    """What the lane owed at the last checkpoint is owed again at start, even when the text
    got embedded before the crash (the vector is full in memory, the index still provisional),
    and so is every row whose vector is provisional."""
    engine = await make_engine(tmp_path, towers=lambda c: tiny_towers(tmp_path / "towers", c))
    try:
        towers, lane = engine.towers, engine.writes.writer.lane
        assert towers is not None and lane is not None
        new = [
            item(900 + i, title=f"Trail lantern {uuid.uuid4().hex}", category=("Outdoor",))
            for i in range(2)
        ]
        await engine.writes.upsert(new)
        await engine.writes.worker.drain()  # checkpoint, and the owed list saved with it
        rows = [engine.catalog.row_of[it.id] for it in new]
        assert all(towers.is_provisional(r) for r in rows)
        # the first one's text embedded just before the crash: full in memory only
        towers.ensure(engine.catalog, np.array(rows[:1], np.int64))
        lane.owed.clear()  # the crash: nothing owed in memory
        assert engine.writes.writer.restore_owed() == 2
        assert sorted(lane.owed) == sorted(rows)
        assert await engine.writes.drain() == 0
        for r in rows:
            vec = towers.vector(r)
            assert vec is not None and not towers.is_provisional(r)
            got = await engine.index.vector(vec, 1, model=towers.version)
            assert got.ids == [engine.catalog.ids[r]]
    finally:
        await close_engine(engine)


async def test_without_a_model_the_source_is_off(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path)
    try:
        src = next(s.source for s in engine.spec.sources if s.source.name == "two_tower")
        assert src.surfaces == frozenset()
        resp = await engine.rank(FeedRequest(page_size=5))
        assert len(resp.items) == 5 and not resp.degraded
    finally:
        await close_engine(engine)


async def test_sources_setting_switches_two_tower_off(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, towers=lambda c: tiny_towers(tmp_path / "towers", c))
    try:
        settings = Settings(sources=TRADITIONAL)
        spec = build_spec(
            settings=settings,
            catalog=engine.catalog,
            index=engine.index,
            signals=engine.signals,
            covis=None,
            models=ServedModels.of(engine.towers),
        )
        on = {s.source.name for s in spec.sources if s.source.surfaces}
        assert on == set(TRADITIONAL)
        both = {s.source.name for s in engine.spec.sources if s.source.surfaces}
        assert "two_tower" in both
        with pytest.raises(ValueError, match="unknown candidate sources"):
            build_spec(
                settings=Settings(sources=("bm25", "nope")),
                catalog=engine.catalog,
                index=engine.index,
                signals=engine.signals,
                covis=None,
            )
    finally:
        await close_engine(engine)


async def test_in_memory_search_matches_the_index_for_an_unindexed_model(
    tmp_path: Path,
) -> None:
    """The ranker-window model's vectors are not in the index: the source searches them
    exactly in memory, and finds what the index finds for the served model."""
    engine = await make_engine(tmp_path, towers=lambda c: tiny_towers(tmp_path / "towers", c))
    try:
        served = engine.towers
        assert served is not None
        ctx = _ctx("phone case")
        indexed = await TwoTowerSource(
            engine.index, engine.catalog, ModelHolder("towers", served)
        ).fetch(ctx, 10)
        exact = await TwoTowerSource(
            engine.index, engine.catalog, ModelHolder("towers", served), in_memory=True
        ).fetch(ctx, 10)
        assert exact.rows.tolist() == indexed.rows.tolist()
        np.testing.assert_allclose(exact.scores, indexed.scores, rtol=1e-4, atol=1e-5)
        # a model never indexed: the index returns nothing for it, memory does
        other = ModelHolder("towers", tiny_towers(tmp_path / "other", engine.catalog, seed=7))
        unindexed = await TwoTowerSource(engine.index, engine.catalog, other).fetch(ctx, 5)
        assert len(unindexed.rows) == 0
        mem = await TwoTowerSource(engine.index, engine.catalog, other, in_memory=True).fetch(
            ctx, 5
        )
        assert len(mem.rows) == 5 and np.all(np.diff(mem.scores) <= 0)
    finally:
        await close_engine(engine)
