"""A published towers model is rolled out by re-embedding into a new index generation while
requests and writes go on; a request whose model finds too few vectors is flagged."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from engine.app import towers_rollout
from engine.app.model_watch import refresh_towers
from engine.app.towers_rollout import Rollout
from engine.core.contracts import FeedRequest, RankedResponse, SearchRequest, Surface
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.executor import Executor
from engine.core.search import IndexUnavailable
from engine.serving.item_writes import ItemWriteReport
from engine.serving.models import ModelHolder
from engine.serving.service import Engine
from engine.serving.sources.two_tower import TwoTowerSource
from engine.serving.tower_drift import OutputReference
from engine.serving.vector_lane import VectorLane
from engine.serving.writes import index_doc
from tests.engine.fixtures import item
from tests.engine.world import BACKENDS, close_engine, make_engine
from tests.towers.tiny import tiny_towers
from towers.serving import TowerServing


async def _traffic(engine: Engine, stop: asyncio.Event) -> list[tuple[float, RankedResponse]]:
    """Search and feed requests back to back until ``stop``, with when each was answered."""
    out: list[tuple[float, RankedResponse]] = []
    while not stop.is_set():
        for req in (SearchRequest(query="phone", page_size=10), FeedRequest(user_id="u1")):
            resp = await engine.rank(req)
            out.append((time.monotonic(), resp))
        await asyncio.sleep(0)
    return out


@dataclasses.dataclass(frozen=True)
class RolledOut:
    """A published towers model rolled out under traffic and a write, then the write drained;
    what later steps change (the catalog, the served model) is as it was right after."""

    engine: Engine
    old: TowerServing
    new_version: str
    matches: int  # text matches of "phone"
    refreshed_early: Rollout | None  # a refresh before the new model was published
    done: Rollout | None
    began: float
    ended: float
    answered: list[tuple[float, RankedResponse]]
    written: ItemWriteReport
    catalog_size: int  # right after the rollout, the held write not applied yet
    held_in_catalog: bool
    served: TowerServing | None
    writer_towers: TowerServing | None
    lane: VectorLane | None
    searched: RankedResponse  # a search once the held write is drained


async def _engine(root: Path, backend: str) -> Engine:
    towers_dir = root / "models" / "towers"
    engine = await make_engine(
        root,
        backend=backend,
        towers=lambda c: tiny_towers(towers_dir, c, seed=1),
        feature_log_rate=1.0,
    )
    # generous source deadlines: a slow test machine must not read as a rollout's failure
    sources = tuple(dataclasses.replace(s, deadline_ms=10_000) for s in engine.spec.sources)
    engine.spec = dataclasses.replace(engine.spec, sources=sources)
    engine.executor = Executor(engine.spec)
    return engine


async def _roll_out(engine: Engine, towers_dir: Path) -> RolledOut:
    old = engine.towers
    assert old is not None
    refreshed_early = await refresh_towers(engine)  # nothing new
    new_version = tiny_towers(towers_dir, engine.catalog, seed=2).version  # published
    matches = len(await engine.index.lexical("phone", 50))
    stop = asyncio.Event()
    traffic = asyncio.create_task(_traffic(engine, stop))
    await asyncio.sleep(0.2)
    chair = item(900, title=f"Camping chair {uuid.uuid4().hex}", category=("Outdoor",))
    began = time.monotonic()
    rollout = asyncio.create_task(refresh_towers(engine))
    await asyncio.sleep(0)
    written = await engine.writes.upsert([chair], wait_s=0.0)  # accepted while held
    done = await rollout
    ended = time.monotonic()
    stop.set()
    answered = await traffic
    size, held = len(engine.catalog), "i900" in engine.catalog.row_of
    served, writer = engine.towers, engine.writes.writer
    writer_towers, lane = writer.towers, writer.lane
    await engine.writes.drain()  # the held change, then its full vector
    searched = await engine.rank(SearchRequest(query="phone", page_size=10, explain=True))
    return RolledOut(
        engine=engine, old=old, new_version=new_version, matches=matches,
        refreshed_early=refreshed_early, done=done, began=began, ended=ended,
        answered=answered, written=written, catalog_size=size, held_in_catalog=held,
        served=served, writer_towers=writer_towers, lane=lane, searched=searched,
    )  # fmt: skip


@pytest_asyncio.fixture(scope="class", loop_scope="class", params=BACKENDS)
async def rolled(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[RolledOut]:
    root = tmp_path_factory.mktemp("rollout")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(towers_rollout, "BULK", 3)  # a fill of several writes, served between
        engine = await _engine(root, request.param)
        try:
            yield await _roll_out(engine, root / "models" / "towers")
        finally:
            await close_engine(engine)


@pytest.mark.asyncio(loop_scope="class")
class TestAPublishedModelIsRolledOutWithoutDowntime:
    async def test_the_rollout_swaps_the_published_model_in_while_serving(
        self, rolled: RolledOut
    ) -> None:
        r = rolled
        assert r.old is not None and r.refreshed_early is None  # nothing new
        done = r.done
        assert done is not None and (done.previous, done.version) == (r.old.version, r.new_version)
        assert done.items == r.catalog_size and not r.held_in_catalog
        assert any(r.began < at < r.ended for at, _ in r.answered)  # served during the rollout

    async def test_every_request_is_answered_in_full_from_one_model(
        self, rolled: RolledOut
    ) -> None:
        # no downtime: every request answered with a full page, from one model version
        responses = [r for _, r in rolled.answered]
        assert len(responses) >= 4
        for r in responses:  # full feed pages; every text match on the search page
            assert len(r.items) >= (20 if r.surface == Surface.feed else rolled.matches)
            # the only degradation allowed: the instant between the promotion and the swap,
            # when the request's (old) model finds few vectors; it names the model it read
            mine = f"vectors of model {r.model_versions['towers']} in the index"
            assert all(why.endswith(mine) for why in r.degraded_reasons), r.degraded_reasons

    async def test_writes_go_on_with_the_new_model(self, rolled: RolledOut) -> None:
        new = rolled.served
        assert new is not None and new.version == rolled.new_version
        assert rolled.writer_towers is new and rolled.lane is not None
        assert rolled.lane.towers is new
        assert rolled.written.pending == ["i900"]

    async def test_the_held_write_gets_the_new_models_vector(self, rolled: RolledOut) -> None:
        engine, new, new_version = rolled.engine, rolled.served, rolled.new_version
        assert new is not None
        q = new.vector(engine.catalog.row_of["i900"])
        assert q is not None
        assert (await engine.index.vector(q, 1, model=new_version)).ids == ["i900"]
        live = len(engine.catalog)
        assert len(await engine.index.vector(q, live, model=new_version)) == live
        assert len(await engine.index.vector(q, live, model=rolled.old.version)) == 0
        state = new.vector_state(engine.catalog)
        assert (state["model"], state["missing"], state["provisional"]) == (new_version, 0, 0)
        resp = rolled.searched
        assert resp.model_versions["towers"] == new_version and not resp.degraded

    async def test_drift_compares_the_served_models_query_vectors(self, rolled: RolledOut) -> None:
        # each logged request keeps the query vector of the model it read; drift compares
        # those of the served model with its reference
        engine, old, new_version = rolled.engine, rolled.old, rolled.new_version
        logged = list(engine.feature_log.recent_queries)
        newer = [q for model, q in logged if model == new_version]
        assert newer and {model for model, _ in logged} <= {old.version, new_version}
        engine.drift.output_reference = OutputReference.build(new_version, np.stack(newer))
        calm = engine.drift.towers(min_rows=1)
        assert calm is not None and calm["model"] == new_version and not calm["alert"]

    async def test_the_old_model_finds_none_of_the_new_generation(self, rolled: RolledOut) -> None:
        # the old model against the new generation: it finds none of its vectors, mixes in
        # none of the new ones, and the response says so
        engine, old = rolled.engine, rolled.old
        ctx = RequestContext("r1", Surface.search, 0.0, query="phone")
        res = await TwoTowerSource(engine.index, engine.catalog, ModelHolder("towers", old)).fetch(
            ctx, 10
        )
        assert len(res.rows) == 0 and f"0 of 10 vectors of model {old.version}" in res.note

    async def test_serving_the_old_model_again_is_flagged(self, rolled: RolledOut) -> None:
        engine, old, new = rolled.engine, rolled.old, rolled.served
        assert new is not None
        engine.models.towers.swap(old)  # serving the old model again, without its vectors
        try:
            stale = await engine.rank(SearchRequest(query="phone", page_size=10))
        finally:
            engine.models.towers.swap(new)  # as the other tests found it
        assert stale.degraded and len(stale.items) >= rolled.matches  # from the other sources
        assert any(f"vectors of model {old.version}" in why for why in stale.degraded_reasons)
        assert stale.model_versions["towers"] == old.version  # what the request read
        assert np.isfinite([it.score for it in stale.items]).all()


async def test_a_server_not_rolling_out_waits_then_adopts_an_indexed_model(
    tmp_path: Path,
) -> None:
    towers_dir = tmp_path / "models" / "towers"
    engine = await make_engine(tmp_path, towers=lambda c: tiny_towers(towers_dir, c, seed=1))
    try:
        engine.settings = engine.settings.model_copy(update={"towers_rollout": False})
        old = engine.towers
        assert old is not None
        new = tiny_towers(towers_dir, engine.catalog, seed=2)  # published
        assert await refresh_towers(engine) is None  # not this server's job: it waits
        assert engine.towers is old
        # another server (or `shopnow index`) rebuilt the index with the new model
        await engine.index.begin_generation()
        rows = range(len(engine.catalog))
        await engine.index.fill([index_doc(engine.catalog, new, r) for r in rows])
        await engine.index.promote()
        done = await refresh_towers(engine)
        assert done is not None and not done.rebuilt and done.version == new.version
        assert engine.towers is not None and engine.towers.version == new.version
        resp = await engine.rank(SearchRequest(query="phone", page_size=10))
        assert not resp.degraded and resp.model_versions["towers"] == new.version
    finally:
        await close_engine(engine)


async def test_the_index_probe_outlasting_its_timeout_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node's first kNN search loads its graphs and may time out: the probe deciding between
    adopting and rebuilding asks again rather than failing the rollout."""
    towers_dir = tmp_path / "models" / "towers"
    engine = await make_engine(tmp_path, towers=lambda c: tiny_towers(towers_dir, c, seed=1))
    try:
        served = engine.towers
        assert served is not None
        search, calls = engine.index.vector, []

        async def cold(*args: object, **kwargs: object) -> object:
            calls.append(args)
            if len(calls) == 1:
                raise IndexUnavailable("OpenSearch kNN search: timed out")
            return await search(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(engine.index, "vector", cold)
        assert await towers_rollout.index_holds(engine, served)  # built with this model
        assert len(calls) == 2
        calls.clear()
        monkeypatch.setattr(towers_rollout, "PROBE_ATTEMPTS", 1)
        with pytest.raises(IndexUnavailable):  # never answering: the refresh loop logs it
            await towers_rollout.index_holds(engine, served)
    finally:
        await close_engine(engine)
