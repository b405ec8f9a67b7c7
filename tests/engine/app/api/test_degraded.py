"""A failing index or an unreachable store degrades the answer; it never becomes a 5xx."""

import dataclasses
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from devtools.opensearch_node.process import free_port
from engine.app.api.app import create_app
from engine.core.catalog import Catalog
from engine.serving.state.redis_store import RedisStore
from search_plugins.opensearch import OpenSearchIndex, OpenSearchParams
from search_plugins.opensearch.client import drop_alias, make_client
from tests.engine.world import ITEMS, close_engine, make_engine
from tests.faults import SlowProxy
from tests.servers import OPENSEARCH_URL, needs_opensearch


async def _client(engine) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
    )


def dead_opensearch() -> OpenSearchIndex:
    """An OpenSearch index whose cluster is gone: nothing listens on its port."""
    url = f"http://127.0.0.1:{free_port()}"
    return OpenSearchIndex(make_client(url, timeout_s=1.0), 8, OpenSearchParams(), owns_client=True)


@pytest.mark.slow
async def test_search_backend_down_answers_from_other_sources(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, index=dead_opensearch())
    async with await _client(engine) as c:
        r = await c.post("/v1/search", json={"query": "phone", "session_items": ["i0"]})
        assert r.status_code == 200
        body = r.json()
        assert body["degraded"] and "bm25" in body["degraded_reasons"][0]
        assert body["items"]  # co-visitation still answers
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        item = ITEMS[0].model_copy(update={"version": ITEMS[0].version + 1, "title": "Zephyr"})
        r = await c.put("/v1/items", json={"items": [item.model_dump(mode="json")]})
        assert r.status_code == 202  # durable in the catalog, the index write is pending
        assert r.json()["pending"] == ["i0"] and r.json()["applied"] == []
        assert (await c.get("/readyz")).json()["backlog"] == 1
    assert await engine.writes.drain() == 1  # still down: still pending, nothing lost
    await engine.close()


@needs_opensearch
async def test_index_writes_wait_until_opensearch_accepts_them(tmp_path: Path) -> None:
    """A write-blocked index (429 on every bulk item) keeps the write pending; once the
    block lifts, the backlog drains and the item is searchable."""
    engine = await make_engine(tmp_path, backend="opensearch")
    index = engine.index
    assert isinstance(index, OpenSearchIndex)
    index.params = dataclasses.replace(index.params, bulk_retries=1, bulk_backoff_s=0.05)
    gen = await index.live_generation()
    block = {"index.blocks.read_only_allow_delete": True}
    try:
        await index.client.indices.put_settings(index=gen, body=block)
        async with await _client(engine) as c:
            item = ITEMS[1].model_copy(update={"version": ITEMS[1].version + 1, "title": "Zephyr"})
            r = await c.put("/v1/items", json={"items": [item.model_dump(mode="json")]})
            assert r.status_code == 202 and r.json()["pending"] == ["i1"]
            await index.client.indices.put_settings(
                index=gen, body={"index.blocks.read_only_allow_delete": None}
            )
            assert await engine.writes.drain() == 0
            body = (await c.post("/v1/search", json={"query": "zephyr"})).json()
            assert not body["degraded"], body["degraded_reasons"]  # offline deadlines
            assert body["items"][0]["id"] == "i1"
    finally:
        await index.client.indices.put_settings(
            index=gen, body={"index.blocks.read_only_allow_delete": None}
        )
        await close_engine(engine)


@needs_opensearch
async def test_slow_opensearch_is_cut_at_the_source_deadline(tmp_path: Path) -> None:
    """OpenSearch answers, but 0.5 s late: BM25 misses its deadline, the rest answers."""
    catalog = Catalog()
    catalog.upsert(ITEMS)
    params = OpenSearchParams(alias=f"slow-{uuid.uuid4().hex[:10]}")
    real = await OpenSearchIndex.create(OPENSEARCH_URL, 8, params)
    await real.upsert([catalog.index_doc(r) for r in range(len(catalog))])
    await real.refresh()
    host, port = urlsplit(OPENSEARCH_URL).hostname, urlsplit(OPENSEARCH_URL).port
    assert host and port
    try:
        async with SlowProxy(host, port, delay_s=0.5) as proxy:
            slow = await OpenSearchIndex.open(proxy.url, params)
            engine = await make_engine(tmp_path, index=slow, serving_deadlines=True)
            async with await _client(engine) as c:
                r = await c.post("/v1/search", json={"query": "phone", "session_items": ["i0"]})
                assert r.status_code == 200
                body = r.json()
                assert body["degraded"]
                assert body["degraded_reasons"] == ["source bm25 timed out"]
                assert body["items"]
            await engine.close()
    finally:
        await drop_alias(OPENSEARCH_URL, params.alias)
        await real.close()


async def test_store_down_serves_defaults_and_flags(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, store=RedisStore("redis://127.0.0.1:1/0", timeout_s=0.05))
    async with await _client(engine) as c:
        r = await c.post("/v1/feed", json={"user_id": "u1", "session_id": "s1"})
        assert r.status_code == 200
        body = r.json()
        assert body["degraded"] and "online store unavailable" in body["degraded_reasons"][0]
        assert len(body["items"]) == 20
        ev = {"type": "click", "ts": "2026-01-02T00:00:00Z", "session_id": "s1", "item_id": "i1"}
        r = await c.post("/v1/events", json={"events": [ev]})
        # accepted: the event waits in the server until the store answers (test_events.py)
        assert r.status_code == 202 and "wait in the server" in r.json()["warnings"][0]
        assert engine.events.spooled == 1
    await engine.close()


async def test_broken_ranker_falls_back_to_heuristic(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path)

    class Broken:
        name, version = "lambdamart", "ranker-broken"

        def score(self, frame):
            raise ValueError("feature mismatch")

        def contributions(self, frame, idx):
            raise ValueError("feature mismatch")

    engine.executor.spec = engine.spec = engine.spec.__class__(
        **{**{f: getattr(engine.spec, f) for f in engine.spec.__slots__}, "scorer": Broken()}
    )
    async with await _client(engine) as c:
        body = (await c.post("/v1/search", json={"query": "phone", "explain": True})).json()
        assert body["degraded"] and "heuristic" in body["degraded_reasons"][0]
        assert body["model_versions"]["ranker"] == "heuristic-1"
        assert body["items"][0]["explanation"]["top_features"]
    await engine.close()
