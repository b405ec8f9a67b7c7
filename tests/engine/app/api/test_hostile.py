"""Hostile input gets a 4xx that names what is wrong, never a 500: numeric parameters parsed
strictly, bodies bounded while they stream, JSON types taken as written, unknown routes in
JSON, every 503 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from engine.app.api.app import create_app
from engine.core.contracts import MAX_FILTER_PRICE, MAX_VERSION
from engine.core.settings import BODY_LIMITS
from engine.serving import events as events_module
from engine.serving.service import Engine
from engine.serving.state.redis_store import RedisStore
from tests.engine.fixtures import item
from tests.engine.world import ITEMS

ID = ITEMS[0].id


def _names(r: httpx.Response, name: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert name in body["error"] and body["detail"][0]["field"] == name, body


@pytest.mark.parametrize(
    "raw",
    ["²", "５", "1e3", "-1", " 1", "0x10", "1_0", str(MAX_VERSION + 1), "1" + "0" * 30, ""],
)
async def test_item_version_is_ascii_digits_in_range(client: httpx.AsyncClient, raw: str) -> None:
    _names(await client.delete(f"/v1/items/{ID}", params={"version": raw}), "version")


async def test_item_version_is_required(client: httpx.AsyncClient) -> None:
    _names(await client.delete(f"/v1/items/{ID}"), "version")


@pytest.mark.parametrize("raw", ["²", "５", "0", "1001", "-5", "10.0", "9" * 40])
async def test_audit_limit_is_strict(client: httpx.AsyncClient, raw: str) -> None:
    _names(await client.get("/v1/audit", params={"limit": raw}), "limit")


@pytest.mark.parametrize("raw", ["²", "５", "0", "9223372036854775808", "1" + "0" * 30, "a"])
async def test_rollback_change_number_is_strict(client: httpx.AsyncClient, raw: str) -> None:
    _names(await client.post(f"/v1/audit/{raw}/rollback"), "seq")


async def test_a_change_number_in_range_that_does_not_exist_is_404(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/audit/9223372036854775807/rollback")
    assert r.status_code == 404 and "no change" in r.json()["error"]


@pytest.mark.parametrize("raw", ["５", "nan", "inf", "-1", "61", "1e1", "1_0"])
async def test_wait_seconds_are_strict(client: httpx.AsyncClient, raw: str) -> None:
    new = {"items": [item(951, title="Phone grip").model_dump(mode="json")]}
    _names(await client.put("/v1/items", params={"wait": raw}, json=new), "wait")


@pytest.mark.parametrize("raw", ['"²"', "５", "-1", '"1" ', "1.0"])
async def test_if_match_is_a_revision(client: httpx.AsyncClient, raw: str) -> None:
    rule = {"name": "hide", "actions": {"hide": [ID]}}
    r = await client.put("/v1/rules/r1", json=rule, headers={"If-Match": raw.encode()})
    _names(r, "if-match")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "phone", "page_size": "10"}, "page_size"),
        ({"query": "phone", "page_size": True}, "page_size"),
        ({"query": "phone", "page": 1.5}, "page"),
        ({"query": "phone", "explain": "yes"}, "explain"),
        ({"query": "phone", "explain": 1}, "explain"),
        ({"query": 7}, "query"),
        ({"query": "phone", "filters": {"price_max": "10"}}, "filters.price_max"),
        ({"query": "phone", "filters": {"in_stock_only": "false"}}, "filters.in_stock_only"),
    ],
)
async def test_wrong_json_types_are_422(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    r = await client.post("/v1/search", json=body)
    assert r.status_code == 422, r.text
    assert any(d["field"] == field for d in r.json()["detail"]), r.json()


@pytest.mark.parametrize("field", ["price_min", "price_max"])
async def test_price_filters_stay_in_float32_range(client: httpx.AsyncClient, field: str) -> None:
    """Prices are float32 in both backends: a bound past float32's range is a 422, the largest
    finite one is a filter like any other (no overflow on the way to a backend)."""
    for bad in (1e300, 3.5e38):
        r = await client.post("/v1/search", json={"query": "phone", "filters": {field: bad}})
        _named_in_detail(r, f"filters.{field}")
    body = {"query": "phone", "filters": {field: MAX_FILTER_PRICE}, "explain": False}
    r = await client.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    hits = r.json()["items"]
    assert (hits == []) if field == "price_min" else (len(hits) > 0), r.json()


def _named_in_detail(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert any(d["field"] == field for d in r.json()["detail"]), r.json()


async def test_item_fields_take_no_strings_for_numbers(client: httpx.AsyncClient) -> None:
    good = item(952, title="Phone ring").model_dump(mode="json")
    for field, bad in [("price", "10"), ("version", "3"), ("price", True), ("price", 1e-300)]:
        r = await client.put("/v1/items", json={"items": [{**good, field: bad}]})
        assert r.status_code == 422, (field, bad, r.text)
        assert r.json()["detail"][0]["field"] == f"items.0.{field}"
    # JSON's own forms stay as they are: an integer price, an ISO date string, an enum value
    r = await client.put("/v1/items", json={"items": [{**good, "price": 12}]})
    assert r.status_code in (200, 202), r.text


async def test_version_past_the_bound_is_refused_at_the_contract(
    client: httpx.AsyncClient,
) -> None:
    good = item(953, title="Phone strap").model_dump(mode="json")
    for version in (MAX_VERSION + 1, 2**62, 2**64):
        r = await client.put("/v1/items", json={"items": [{**good, "version": version}]})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "items.0.version"
    r = await client.put("/v1/items", json={"items": [{**good, "version": MAX_VERSION}]})
    assert r.status_code in (200, 202), r.text


@pytest.fixture
async def small_limits(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    limits = {**BODY_LIMITS, "query": 2_000, "items": 20_000}
    engine.settings = engine.settings.model_copy(update={"body_limits": limits})
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_an_announced_large_body_is_413(small_limits: httpx.AsyncClient) -> None:
    big = b'{"query": "' + b"a" * 5_000 + b'"}'
    r = await small_limits.post("/v1/search", content=big)
    assert r.status_code == 413 and "2000 bytes" in r.json()["error"]


async def test_a_streamed_body_is_cut_at_the_limit(small_limits: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        nonlocal sent
        yield b'{"query": "'
        for _ in range(1000):
            sent += 1
            yield b"a" * 1000
        yield b'"}'

    r = await small_limits.post("/v1/search", content=chunks())
    assert r.status_code == 413 and "more than 2000 bytes" in r.json()["error"]


async def test_limits_are_per_route_class(small_limits: httpx.AsyncClient) -> None:
    batch = {
        "items": [item(960 + i, title=f"Phone case {i}").model_dump(mode="json") for i in (1, 2)]
    }
    r = await small_limits.put("/v1/items", json=batch)  # ~1 KB: over "query", under "items"
    assert r.status_code in (200, 202), r.text
    many = {"items": [item(970 + i, title="Phone x").model_dump(mode="json") for i in range(100)]}
    r = await small_limits.put("/v1/items", json=many)
    assert r.status_code == 413 and "20000 bytes" in r.json()["error"]


async def test_unknown_routes_answer_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nope")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = await client.get("/v1/search")
    assert r.status_code == 405 and r.json()["error"] == "Method Not Allowed"


@pytest.fixture
async def store_down(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    live = engine.store
    engine.store = engine.events.store = RedisStore("redis://127.0.0.1:1/0", timeout_s=0.05)
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    await engine.store.close()
    engine.store = engine.events.store = live


async def test_every_503_says_when_to_retry(
    store_down: httpx.AsyncClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    click = {"type": "click", "item_id": ID, "session_id": "s1", "ts": "2026-01-02T00:00:00Z"}
    r = await store_down.post("/v1/events", json={"events": [click]})
    assert r.status_code == 202  # the event waits in the server's spool for the store ...
    monkeypatch.setattr(events_module, "SPOOL_EVENTS", 1)
    r = await store_down.post("/v1/events", json={"events": [click]})
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0  # ... until it is full
    assert "already wait for the store" in r.json()["error"]
    await engine.events.close()  # the spooled event is dropped, not left for the next test
    r = await store_down.get("/readyz")
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    assert r.json()["store_ok"] is False
