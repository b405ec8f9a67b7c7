"""A published towers model is rolled out by re-embedding into a new index generation while
requests and writes go on; a request whose model finds too few vectors is flagged."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from engine.app import towers_rollout
from engine.app.model_watch import refresh_towers
from engine.core.contracts import FeedRequest, RankedResponse, SearchRequest, Surface
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.executor import Executor
from engine.serving.models import ModelHolder
from engine.serving.service import Engine
from engine.serving.sources.two_tower import TwoTowerSource
from engine.serving.tower_drift import OutputReference
from engine.serving.writes import index_doc
from tests.engine.fixtures import item
from tests.engine.world import BACKENDS, close_engine, make_engine
from tests.towers.tiny import tiny_towers


async def _traffic(engine: Engine, stop: asyncio.Event) -> list[tuple[float, RankedResponse]]:
    """Search and feed requests back to back until ``stop``, with when each was answered."""
    out: list[tuple[float, RankedResponse]] = []
    while not stop.is_set():
        for req in (SearchRequest(query="phone", page_size=10), FeedRequest(user_id="u1")):
            resp = await engine.rank(req)
            out.append((time.monotonic(), resp))
        await asyncio.sleep(0)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_published_model_is_rolled_out_without_downtime(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(towers_rollout, "BULK", 3)  # a fill of several writes, served between
    towers_dir = tmp_path / "models" / "towers"
    engine = await make_engine(
        tmp_path,
        backend=backend,
        towers=lambda c: tiny_towers(towers_dir, c, seed=1),
        feature_log_rate=1.0,
    )
    # generous source deadlines: a slow test machine must not read as a rollout's failure
    sources = tuple(dataclasses.replace(s, deadline_ms=10_000) for s in engine.spec.sources)
    engine.spec = dataclasses.replace(engine.spec, sources=sources)
    engine.executor = Executor(engine.spec)
    try:
        old = engine.towers
        assert old is not None and await refresh_towers(engine) is None  # nothing new
        new_version = tiny_towers(towers_dir, engine.catalog, seed=2).version  # published
        matches = len(await engine.index.lexical("phone", 50))
        stop = asyncio.Event()
        traffic = asyncio.create_task(_traffic(engine, stop))
        await asyncio.sleep(0.2)
        chair = item(900, title=f"Camping chair {uuid.uuid4().hex}", category=("Outdoor",))
        began = time.monotonic()
        rollout = asyncio.create_task(refresh_towers(engine))
        await asyncio.sleep(0)
        written = await engine.upsert_items([chair], wait_s=0.0)  # accepted while held
        done = await rollout
        ended = time.monotonic()
        stop.set()
        answered = await traffic
        responses = [r for _, r in answered]
        assert done is not None and (done.previous, done.version) == (old.version, new_version)
        assert done.items == len(engine.catalog) and "i900" not in engine.catalog.row_of
        assert any(began < at < ended for at, _ in answered)  # served during the rollout

        # no downtime: every request answered with a full page, from one model version
        assert len(responses) >= 4
        for r in responses:  # full feed pages; every text match on the search page
            assert len(r.items) >= (20 if r.surface == Surface.feed else matches)
            # the only degradation allowed: the instant between the promotion and the swap,
            # when the request's (old) model finds few vectors; it names the model it read
            mine = f"vectors of model {r.model_versions['towers']} in the index"
            assert all(why.endswith(mine) for why in r.degraded_reasons), r.degraded_reasons

        new = engine.towers
        assert new is not None and new.version == new_version
        assert engine.writer.towers is new and engine.writer.lane is not None
        assert engine.writer.lane.towers is new
        assert written.pending == ["i900"]
        await engine.drain_backlog()  # the held change, then its full vector
        q = new.vector(engine.catalog.row_of["i900"])
        assert q is not None
        assert (await engine.index.vector(q, 1, model=new_version)).ids == ["i900"]
        live = len(engine.catalog)
        assert len(await engine.index.vector(q, live, model=new_version)) == live
        assert len(await engine.index.vector(q, live, model=old.version)) == 0
        state = new.vector_state(engine.catalog)
        assert (state["model"], state["missing"], state["provisional"]) == (new_version, 0, 0)
        resp = await engine.rank(SearchRequest(query="phone", page_size=10, explain=True))
        assert resp.model_versions["towers"] == new_version and not resp.degraded

        # each logged request keeps the query vector of the model it read; drift compares
        # those of the served model with its reference
        logged = list(engine.feature_log.recent_queries)
        newer = [q for model, q in logged if model == new_version]
        assert newer and {model for model, _ in logged} <= {old.version, new_version}
        engine.output_reference = OutputReference.build(new_version, np.stack(newer))
        calm = engine.recent_output_drift(min_rows=1)
        assert calm is not None and calm["model"] == new_version and not calm["alert"]

        # the old model against the new generation: it finds none of its vectors, mixes in
        # none of the new ones, and the response says so
        ctx = RequestContext("r1", Surface.search, 0.0, query="phone")
        res = await TwoTowerSource(engine.index, engine.catalog, ModelHolder("towers", old)).fetch(
            ctx, 10
        )
        assert len(res.rows) == 0 and f"0 of 10 vectors of model {old.version}" in res.note
        engine.models.towers.swap(old)  # serving the old model again, without its vectors
        stale = await engine.rank(SearchRequest(query="phone", page_size=10))
        assert stale.degraded and len(stale.items) >= matches  # from the other sources
        assert any(f"vectors of model {old.version}" in why for why in stale.degraded_reasons)
        assert stale.model_versions["towers"] == old.version  # what the request read
        assert np.isfinite([it.score for it in stale.items]).all()
    finally:
        await close_engine(engine)


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
