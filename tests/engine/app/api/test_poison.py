"""Issue 19, item 1: a record that cannot be applied never stops ingest, and a stuck worker
shows in /readyz. On each backend: a version past the contract's bound is refused at the door;
a record that reaches the log anyway ends in the dead letters while the rest is applied; a
restart over the same directory does not stop on it again; a transient failure is retried,
never dead-lettered, and once it lasts longer than ``ingest_stall_s`` the engine is not ready.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.app.api.app import create_app
from engine.core.catalog import Catalog
from engine.core.contracts import MAX_VERSION
from engine.core.search import IndexDoc, IndexUnavailable, SearchIndex, UpsertReport
from engine.core.settings import Settings
from engine.serving.service import Engine
from engine.serving.writes import replay_catalog
from ingest.deadletter import DeadLetters
from ingest.log import delete_body, upsert_body
from search_plugins.opensearch import OpenSearchIndex
from search_plugins.opensearch.client import drop_alias
from tests.engine.fixtures import item
from tests.engine.world import BACKENDS, ITEMS, make_engine, make_index
from tests.servers import OPENSEARCH_URL, needs_opensearch


def _item(i: int, **kw: Any) -> dict[str, Any]:
    return item(i, **kw).model_dump(mode="json")


def _client(engine: Engine) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
    )


async def _ids(c: httpx.AsyncClient, query: str) -> list[str]:
    body = (await c.post("/v1/search", json={"query": query, "page_size": 50})).json()
    assert not body["degraded"], body["degraded_reasons"]
    return [it["id"] for it in body["items"]]


def _letters(engine: Engine) -> list[dict[str, Any]]:
    return DeadLetters(engine.settings.ingest_path).read()


class FaultyIndex:
    """A real index, with faults: writing a document whose id is in ``poison`` raises (an
    error the backend returns for that document, every time), and while ``down`` every write
    raises :class:`IndexUnavailable` (transient). Everything else goes to the real index."""

    def __init__(self, real: SearchIndex) -> None:
        self.real = real
        self.poison: set[str] = set()
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def upsert(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        if self.down:
            raise IndexUnavailable("index unreachable (test fault)")
        bad = sorted(d.id for d in docs if d.id in self.poison)
        if bad:
            raise RuntimeError(f"the backend refuses documents {bad} (test fault)")
        return await self.real.upsert(docs)

    async def delete(self, ids: Sequence[str], version: int) -> int:
        if self.down:
            raise IndexUnavailable("index unreachable (test fault)")
        return await self.real.delete(ids, version)


@pytest.fixture(params=BACKENDS)
async def faulty(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[FaultyIndex]:
    """The world's index on each backend, behind :class:`FaultyIndex` (no fault yet)."""
    catalog = Catalog()
    catalog.upsert(ITEMS)
    backend = str(request.param).partition("+")[0]
    real = await make_index(Settings(index_dir=tmp_path / "index"), catalog, backend)
    index = FaultyIndex(real)
    index.backend = request.param  # type: ignore[attr-defined]
    yield index
    if isinstance(real, OpenSearchIndex):
        await drop_alias(OPENSEARCH_URL, real.params.alias)


async def _engine(tmp_path: Path, index: FaultyIndex, **settings: Any) -> Engine:
    """An engine over ``index``; its checkpoint moves only when it closes (so that a second
    engine over the same directory, a restart, applies the whole log again)."""
    backend: str = index.backend  # type: ignore[attr-defined]
    return await make_engine(
        tmp_path, index=index, backend=backend, ingest_persist_s=3600, **settings
    )


async def test_a_version_past_the_bound_is_refused_and_the_bound_itself_indexes(
    client: httpx.AsyncClient,
) -> None:
    """2^62 was accepted into the log and then failed every index write (3 x version
    overflows 64 bits): now a 422 naming the field. MAX_VERSION itself is written and
    searchable on the backend, and deleted at that version."""
    r = await client.put("/v1/items", json={"items": [_item(930) | {"version": 2**62}]})
    assert r.status_code == 422 and "items.0.version" in r.json()["error"], r.json()
    top = _item(931, title="Obsidian bookend", version=MAX_VERSION)
    r = await client.put("/v1/items", json={"items": [top]})
    assert r.status_code == 200 and r.json()["applied"] == ["i931"], r.json()
    assert await _ids(client, "obsidian bookend") == ["i931"]
    r = await client.delete("/v1/items/i931", params={"version": MAX_VERSION})
    assert r.status_code == 200 and r.json()["deleted"], r.json()
    assert "i931" not in await _ids(client, "obsidian bookend")


async def test_a_huge_version_in_the_log_is_dead_lettered_and_ingest_goes_on(
    tmp_path: Path, faulty: FaultyIndex
) -> None:
    """Records in the log past the contract (appended by another producer, or before the
    bound existed): dead letters with the reason, while the records beside them, a later
    PUT and a later DELETE are applied; a restart over the same directory passes them."""
    engine = await _engine(tmp_path, faulty)
    async with _client(engine) as c:
        offsets = await engine.writes.worker.accept(
            [
                upsert_body(_item(932, title="Basalt coaster")),
                upsert_body(_item(933, title="Basalt poison") | {"version": 2**62}),
                delete_body("i3", 2**62),
                upsert_body(_item(934, title="Basalt tray")),
            ]
        )
        r = await c.put("/v1/items", json={"items": [_item(935, title="Basalt bowl")]})
        assert r.status_code == 200 and r.json()["applied"] == ["i935"], r.json()
        assert sorted(await _ids(c, "basalt")) == ["i932", "i934", "i935"]
        r = await c.delete("/v1/items/i932", params={"version": 1})
        assert r.status_code == 200, r.json()
        assert sorted(await _ids(c, "basalt")) == ["i934", "i935"]
        letters = _letters(engine)
        assert [ln["source"] for ln in letters] == [f"log offset {o}" for o in offsets[1:3]]
        assert "version" in letters[0]["reason"] and "version" in letters[1]["reason"]
        assert "i933" not in engine.catalog.row_of
        assert engine.catalog.titles[engine.catalog.row_of["i3"]] == ITEMS[3].title
        assert (await c.get("/readyz")).json()["ingest_stalled_s"] == 0.0

    # a restart over the same directory and index, before any checkpoint passed them
    assert engine.writes.ingest_log.checkpoint <= offsets[0]
    fresh = await _engine(tmp_path, faulty)
    try:
        replay_catalog(fresh.catalog, fresh.writes.ingest_log)
        assert "i933" not in fresh.catalog.row_of
        assert not fresh.catalog.deleted.values[fresh.catalog.row_of["i3"]]
        assert await fresh.writes.worker.drain() == 0
        assert len(_letters(fresh)) == 2  # not dead-lettered twice
        async with _client(fresh) as c:
            assert sorted(await _ids(c, "basalt")) == ["i934", "i935"]
    finally:
        fresh.rules.control.close()
        await engine.close()


async def test_a_record_the_backend_keeps_refusing_is_dead_lettered(
    tmp_path: Path, faulty: FaultyIndex
) -> None:
    """Whatever the cause: a record whose index write raises every time (here the backend
    refuses its document) is dead-lettered after bounded retries, with its outcome, the
    metric and the catalog put back; the rest of its batch and a later PUT are applied and
    searchable, and a restart does not stop on it again."""
    faulty.poison = {"i2", "i936"}
    engine = await _engine(tmp_path, faulty)
    async with _client(engine) as c:
        poisoned = ITEMS[2].model_copy(update={"version": 5, "title": "Slate poison"})
        offsets = await engine.writes.worker.accept(
            [
                upsert_body(_item(937, title="Slate clock")),
                upsert_body(poisoned.model_dump(mode="json")),  # an update of a known item
                upsert_body(_item(938, title="Slate vase")),
                upsert_body(_item(936, title="Slate poison new")),  # a new item
                upsert_body(_item(939, title="Slate lamp")),
            ]
        )
        r = await c.put("/v1/items", json={"items": [_item(940, title="Slate shelf")]})
        assert r.status_code == 200 and r.json()["applied"] == ["i940"], r.json()
        assert sorted(await _ids(c, "slate")) == ["i937", "i938", "i939", "i940"]
        outcomes = engine.writes.worker.outcomes(offsets)
        assert outcomes[offsets[1]].status == "dead_letter"
        assert "refuses" in outcomes[offsets[1]].detail
        letters = _letters(engine)
        assert [ln["source"] for ln in letters] == [f"log offset {offsets[i]}" for i in (1, 3)]
        assert all("failed 3 times" in ln["reason"] for ln in letters)
        # the catalog as before the poison: i2 at its old version and title, i936 absent
        cat = engine.catalog
        row = cat.row_of["i2"]
        assert cat.titles[row] == ITEMS[2].title and int(cat.version.values[row]) == 1
        assert "i936" not in {cat.ids[r] for r in cat.rows(["i936"])}
        metrics = (await c.get("/metrics")).text
        assert "shopnow_ingest_poison_records_total 2.0" in metrics
        assert (await c.get("/readyz")).status_code == 200

    assert engine.writes.ingest_log.checkpoint <= offsets[0]  # the restart re-applies all of it
    fresh = await _engine(tmp_path, faulty)  # the backend still refuses them
    try:
        replay_catalog(fresh.catalog, fresh.writes.ingest_log)
        assert fresh.catalog.titles[fresh.catalog.row_of["i2"]] == ITEMS[2].title
        assert "i936" not in fresh.catalog.row_of
        assert await fresh.writes.worker.drain() == 0
        assert fresh.writes.worker.stats.poison == 0 and len(_letters(fresh)) == 2
    finally:
        fresh.rules.control.close()
        await engine.close()


async def test_a_transient_failure_is_retried_never_dead_lettered_and_stalls_readiness(
    tmp_path: Path, faulty: FaultyIndex
) -> None:
    """An unreachable index: the change waits, whole, through many more retries than a
    poison record gets; past ``ingest_stall_s`` /readyz says not ready and why; once the
    index is back the change is applied and the engine is ready again."""
    engine = await _engine(tmp_path, faulty, ingest_stall_s=0.3)
    async with _client(engine) as c:
        faulty.down = True
        r = await c.put("/v1/items", json={"items": [_item(941, title="Cobalt kettle")]})
        assert r.status_code == 202 and r.json()["pending"] == ["i941"], r.json()
        for _ in range(6):
            assert await engine.writes.worker.drain() == 1
        await asyncio.sleep(0.4)
        ready = await c.get("/readyz")
        assert ready.status_code == 503, ready.json()
        body = ready.json()
        assert body["ingest_stalled_s"] >= 0.3 and body["index_ok"] and body["store_ok"]
        assert _letters(engine) == [] and engine.writes.worker.stats.poison == 0
        faulty.down = False
        assert await engine.writes.drain() == 0
        ready = await c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ingest_stalled_s"] == 0.0
        assert await _ids(c, "cobalt kettle") == ["i941"]
    await engine.close()


@needs_opensearch
async def test_a_write_blocked_opensearch_stalls_readiness_without_dead_letters(
    tmp_path: Path,
) -> None:
    """The same with a real refusal: a write-blocked OpenSearch index answers 429 to every
    bulk item (transient); the change waits, nothing is dead-lettered, /readyz reports the
    stall, and the change is applied once the block lifts."""
    from tests.engine.world import close_engine

    engine = await make_engine(tmp_path, backend="opensearch", ingest_stall_s=0.3)
    index = engine.index
    assert isinstance(index, OpenSearchIndex)
    index.params = dataclasses.replace(index.params, bulk_retries=0, bulk_backoff_s=0.01)
    gen = await index.live_generation()
    try:
        await index.client.indices.put_settings(
            index=gen, body={"index.blocks.read_only_allow_delete": True}
        )
        async with _client(engine) as c:
            r = await c.put("/v1/items", json={"items": [_item(942, title="Garnet mug")]})
            assert r.status_code == 202 and r.json()["pending"] == ["i942"], r.json()
            for _ in range(6):
                assert await engine.writes.worker.drain() == 1
            await asyncio.sleep(0.4)
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["ingest_stalled_s"] >= 0.3
            assert _letters(engine) == [] and engine.writes.worker.stats.poison == 0
            await index.client.indices.put_settings(
                index=gen, body={"index.blocks.read_only_allow_delete": None}
            )
            assert await engine.writes.drain() == 0
            assert (await c.get("/readyz")).status_code == 200
            assert await _ids(c, "garnet mug") == ["i942"]
    finally:
        await index.client.indices.put_settings(
            index=gen, body={"index.blocks.read_only_allow_delete": None}
        )
        await close_engine(engine)
