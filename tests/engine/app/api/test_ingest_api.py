"""Near-real-time catalog writes over HTTP: accepted at once, applied by the ingest worker,
refused with 429 when the log is full, measured in /metrics."""

import httpx

from engine.serving.service import Engine
from tests.engine.fixtures import item


def _item(i: int, **kw) -> dict:
    return item(i, **kw).model_dump(mode="json")


async def test_no_wait_accepts_then_the_worker_applies(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    new = _item(910, title="Obsidian pestle", category=("Home", "Kitchen"))
    r = await client.put("/v1/items", params={"wait": 0}, json={"items": [new]})
    assert r.status_code == 202 and r.json()["pending"] == ["i910"]
    assert engine.writes.backlog == 1 and (await client.get("/readyz")).json()["backlog"] == 1
    body = (await client.post("/v1/search", json={"query": "obsidian pestle"})).json()
    assert "i910" not in [it["id"] for it in body["items"]]  # accepted, not yet applied
    assert await engine.writes.drain() == 0
    body = (await client.post("/v1/search", json={"query": "obsidian pestle"})).json()
    assert body["items"][0]["id"] == "i910"


async def test_full_log_is_429_with_retry_after(client: httpx.AsyncClient, engine: Engine) -> None:
    engine.writes.ingest_log.capacity = engine.writes.ingest_log.pending + 1
    two = [_item(911), _item(912)]
    r = await client.put("/v1/items", params={"wait": 0}, json={"items": two})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "ingest log full" in r.json()["error"]
    assert "i911" not in engine.catalog.row_of and engine.writes.backlog == 0  # nothing half-taken
    r = await client.put("/v1/items", json={"items": two[:1]})
    assert r.status_code == 200 and r.json()["applied"] == ["i911"]


async def test_bad_wait_is_422(client: httpx.AsyncClient) -> None:
    for bad in ("soon", "-1", "1e9"):
        r = await client.put("/v1/items", params={"wait": bad}, json={"items": [_item(913)]})
        assert r.status_code == 422 and "wait" in r.json()["error"], bad


async def test_metrics_report_freshness_latency_and_lag(client: httpx.AsyncClient) -> None:
    await client.put("/v1/items", json={"items": [_item(914, title="Velvet ottoman")]})
    await client.post("/v1/search", json={"query": "velvet"})
    await client.post("/v1/feed", json={"user_id": "u1"})
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'shopnow_freshness_seconds_count{source="bm25"} 1.0' in text
    assert 'shopnow_freshness_seconds_count{source="all"} 1.0' in text
    assert 'shopnow_freshness_seconds_count{source="new_arrivals"} 1.0' in text
    assert 'shopnow_ingested_changes_total{outcome="applied"} 1.0' in text
    assert 'shopnow_request_seconds_count{surface="search"} 1.0' in text
    assert 'shopnow_request_seconds_count{surface="feed"} 1.0' in text
    assert 'shopnow_stage_seconds_count{stage="bm25",surface="search"} 1.0' in text
    assert "shopnow_ingest_lag_changes 0.0" in text
    assert "shopnow_cold_start_priors_waiting 0.0" in text
