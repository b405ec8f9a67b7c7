"""A failing index or an unreachable store degrades the answer; it never becomes a 5xx."""

from collections.abc import Sequence
from pathlib import Path

import httpx

from engine.api.app import create_app
from engine.state.redis_store import RedisStore
from search_plugins.protocol import Hits, IndexDoc, SearchFilter, UpsertReport
from tests.engine.world import make_engine


class BrokenIndex:
    """An index whose searches fail, as a dead backend's would."""

    name = "broken"

    async def upsert(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        return UpsertReport(0, [], {d.id: "backend down" for d in docs})

    async def delete(self, ids: Sequence[str], version: int) -> int:
        raise ConnectionError("backend down")

    async def refresh(self) -> None:
        return None

    async def lexical(self, query: str, k: int, flt: SearchFilter | None = None) -> Hits:
        raise ConnectionError("backend down")

    async def vector(self, query, k, flt=None, model="") -> Hits:
        raise ConnectionError("backend down")

    async def versions(self, ids: Sequence[str]) -> dict[str, int]:
        return {}

    async def count(self) -> int:
        return 0

    async def close(self) -> None:
        return None


async def _client(engine) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://test"
    )


async def test_search_backend_down_answers_from_other_sources(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, index=BrokenIndex())
    async with await _client(engine) as c:
        r = await c.post("/v1/search", json={"query": "phone", "session_items": ["i0"]})
        assert r.status_code == 200
        body = r.json()
        assert body["degraded"] and "bm25" in body["degraded_reasons"][0]
        assert body["items"]  # co-visitation still answers
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False


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
        assert r.status_code == 503 and "retry" in r.json()["error"]
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
