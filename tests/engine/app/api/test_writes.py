from datetime import UTC, datetime

import httpx

from engine.serving.service import Engine
from tests.engine.fixtures import item


def _item(i: int, **kw) -> dict:
    return item(i, **kw).model_dump(mode="json")


async def test_put_item_is_searchable_at_once(client: httpx.AsyncClient) -> None:
    new = _item(900, title="Quantum espresso grinder", category=("Home", "Kitchen"))
    r = await client.put("/v1/items", json={"items": [new]})
    assert r.status_code == 200 and r.json()["applied"] == ["i900"]
    body = (await client.post("/v1/search", json={"query": "espresso grinder"})).json()
    assert body["items"][0]["id"] == "i900"
    feed = (
        await client.post("/v1/feed", json={"filters": {"categories": ["Home/Kitchen"]}})
    ).json()
    assert [it["id"] for it in feed["items"]] == ["i900"]


async def test_older_version_never_overwrites(client: httpx.AsyncClient) -> None:
    await client.put("/v1/items", json={"items": [_item(901, title="Lamp v3", version=3)]})
    r = await client.put("/v1/items", json={"items": [_item(901, title="Lamp v2", version=2)]})
    assert r.json() == {"applied": [], "stale": ["i901"], "failed": {}, "pending": []}
    body = (await client.post("/v1/search", json={"query": "lamp"})).json()
    assert body["items"][0]["title"] == "Lamp v3"


async def test_bad_item_is_422_and_nothing_half_saved(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    good = _item(902, title="Good item")
    bad = {**_item(903), "price": -5}
    r = await client.put("/v1/items", json={"items": [good, bad]})
    assert r.status_code == 422 and "items.1.price" in r.json()["error"]
    assert "i902" not in engine.catalog.row_of
    r = await client.put("/v1/items", json={"items": [{**good, "secret": 1}]})
    assert r.status_code == 422 and "secret" in r.json()["error"]


async def test_delete_with_versions(client: httpx.AsyncClient) -> None:
    await client.put("/v1/items", json={"items": [_item(904, title="Marble clock", version=5)]})
    r = await client.delete("/v1/items/i904", params={"version": 4})
    assert r.status_code == 409
    r = await client.delete("/v1/items/i904")
    assert r.status_code == 422 and "version" in r.json()["error"]
    r = await client.delete("/v1/items/i904", params={"version": 5})
    assert r.status_code == 200 and r.json() == {"id": "i904", "deleted": True}
    body = (await client.post("/v1/search", json={"query": "marble clock"})).json()
    assert "i904" not in [it["id"] for it in body["items"]]
    assert (await client.delete("/v1/items/nope", params={"version": 1})).status_code == 404


async def test_events_feed_session_state(client: httpx.AsyncClient, engine: Engine) -> None:
    ev = [
        {
            "type": "purchase",
            "ts": "2026-01-02T00:00:00Z",
            "session_id": "s-42",
            "user_id": "u-42",
            "item_id": "i4",
        },
        {"type": "search", "ts": "2026-01-02T00:00:01Z", "session_id": "s-42", "query": "case"},
    ]
    r = await client.post("/v1/events", json={"events": ev})
    assert r.status_code == 202 and r.json()["accepted"] == 2
    body = (
        await client.post(
            "/v1/feed",
            json={"user_id": "u-42", "session_id": "s-42", "explain": True, "page_size": 50},
        )
    ).json()
    ids = [it["id"] for it in body["items"]]
    assert "i4" not in ids  # already purchased
    assert any("covis" in it["explanation"]["sources"] for it in body["items"])
    # the session's search is kept, and the feed proposes what it would find
    searched = datetime(2026, 1, 2, 0, 0, 1, tzinfo=UTC).timestamp()
    assert await engine.store.queries("s-42", 3) == [("case", searched)]
    from_search = [it["id"] for it in body["items"] if "bm25" in it["explanation"]["sources"]]
    assert from_search and all(
        engine.catalog.category_name(engine.catalog.row_of[i]).endswith("Cases")
        for i in from_search
    ), from_search


async def test_events_count_towards_live_popularity(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    def ev(kind: str, item: str, second: int) -> dict[str, str]:
        ts = f"2026-01-02T00:00:{second:02d}Z"
        return {"type": kind, "ts": ts, "session_id": "s-7", "item_id": item}

    events = [ev("click", "i200", 0), ev("purchase", "i201", 1), ev("click", "i201", 2)]
    events.append(ev("impression", "i202", 3) | {"request_id": "r1", "position": 0})
    r = await client.post("/v1/events", json={"events": events})
    assert r.status_code == 202
    now = datetime(2026, 1, 2, 0, 0, 3, tzinfo=UTC).timestamp()
    top = await engine.store.top("global", 10, now)
    assert [i for i, _ in top] == ["i201", "i200"]  # purchase + click > click; no impressions
    assert [i for i, _ in await engine.store.top("cat:Home/Decor", 10, now)] == ["i201", "i200"]


async def test_health_ready_openapi_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["ready"] and ready["items"] == 24 and ready["store_ok"]
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert {"/v1/search", "/v1/feed", "/v1/events", "/v1/items", "/v1/items/{item_id}"} <= set(
        spec["paths"]
    )
    schemas = spec["components"]["schemas"]
    assert {"SearchRequest", "RankedResponse", "Item", "EventBatch"} <= set(schemas)
    ref = spec["paths"]["/v1/search"]["post"]["requestBody"]["content"]["application/json"]
    assert ref["schema"]["$ref"] == "#/components/schemas/SearchRequest"
    assert schemas["Item"]["properties"]["cost_price"]["restricted"] is True
    html = (await client.get("/docs")).text
    assert "/v1/search" in html and "SearchRequest" in html
