import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"query": "x", "page_size": "ten"}, "page_size"),
        ("/v1/search", {"query": "x", "colour": "red"}, "colour"),
        ("/v1/search", {"query": "   "}, "query"),
        ("/v1/search", {"query": "!!!"}, "query"),
        ("/v1/search", {}, "query"),
        ("/v1/search", {"query": "x", "page_size": 0}, "page_size"),
        ("/v1/feed", {"filters": {"price_min": 50, "price_max": 10}}, "filters"),
        ("/v1/feed", {"filters": {"price_min": -1}}, "filters.price_min"),
        ("/v1/feed", {"user_id": "bad id with spaces"}, "user_id"),
        ("/v1/feed", {"page": -1}, "page"),
    ],
)
async def test_bad_requests_get_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict, field: str
) -> None:
    r = await client.post(path, json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert field in err["error"]
    assert any(d["field"].startswith(field) for d in err["detail"])


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/search", content=b'{"query": ')
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = await client.post("/v1/search", content=b"")
    assert r.status_code == 400 and "empty" in r.json()["error"]


async def test_bad_event_is_422_and_nothing_is_stored(client: httpx.AsyncClient, engine) -> None:
    events = [
        {"type": "click", "ts": "2026-01-02T00:00:00Z", "session_id": "s1", "item_id": "i1"},
        {"type": "click", "ts": "2026-01-02T00:00:00Z", "session_id": "s1"},
    ]
    r = await client.post("/v1/events", json={"events": events})
    assert r.status_code == 422 and "events.1" in r.json()["error"]
    assert "item_id" in r.json()["error"]
    assert await engine.store.session("s1", 10) == []


async def test_impression_needs_request_id_and_position(client: httpx.AsyncClient) -> None:
    ev = {"type": "impression", "ts": "2026-01-02T00:00:00Z", "session_id": "s1", "item_id": "i1"}
    r = await client.post("/v1/events", json={"events": [ev]})
    assert r.status_code == 422 and "request_id" in r.json()["error"]


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/nope")).status_code == 404
    assert (await client.get("/v1/search")).status_code == 405
