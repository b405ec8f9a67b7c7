"""Merchandising rules over HTTP, on every backend: writes take effect at once on this worker and
within the poll on another, act on search and feed, are explained, previewed, audited and rolled
back; bad rules are refused whole with the field named."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from engine.app.api.app import watch_rules
from engine.serving.rules.live import LiveRules
from engine.serving.rules.store import ControlStore
from engine.serving.service import Engine
from tests.engine.world import CASES, PHONES, make_engine


def _ids(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [it["id"] for it in resp.json()["items"]]


def _rule(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "phones: pin a case first",
        "match": {"query": {"kind": "contains", "value": "phone"}},
        "actions": {"pins": [{"item_id": CASES[2].id, "position": 1}]},
    }
    return {**body, **over}


async def test_pin_boost_hide_on_search_with_explain(client: httpx.AsyncClient) -> None:
    before = _ids(await client.post("/v1/search", json={"query": "smartphone"}))
    assert CASES[2].id not in before[:1]
    rule = {
        "name": "smartphones: clear case first, zen up, orbit hidden",
        "priority": 10,
        "match": {"query": {"kind": "phrase", "value": "smartphone"}, "surfaces": ["search"]},
        "actions": {
            "pins": [{"item_id": CASES[2].id, "position": 1}],
            "boosts": [{"attribute": "brand", "value": "zen", "weight": 1.0}],
            "hide": [PHONES[5].id],
        },
    }
    r = await client.put("/v1/rules/smart-phones", json=rule)
    assert r.status_code == 201, r.text
    assert r.json()["revision"] > 0
    resp = await client.post("/v1/search", json={"query": "Smartphone!", "explain": True})
    body = resp.json()
    ids = [it["id"] for it in body["items"]]
    assert ids[0] == CASES[2].id  # pinned, though no source proposed a case for this query
    zen = [p.id for p in PHONES if p.brand == "zen"]
    brands = [it["brand"] for it in body["items"][1:]]
    assert brands[: len(zen)] == ["zen"] * len(zen)  # boosted above every other phone
    assert PHONES[5].id not in ids
    first = body["items"][0]["explanation"]["moved_by"]
    assert "rule smart-phones: pinned at 1" in first
    assert any(
        "rule smart-phones: boost +1 (brand=zen)" in n
        for n in body["items"][1]["explanation"]["moved_by"]
    )
    removed = {x["id"]: x for x in body["explain"]["removed"]}
    assert removed[PHONES[5].id]["stage"] == "rules"
    assert removed[PHONES[5].id]["reason"] == "rule smart-phones: hidden"
    assert "rule smart-phones: matched" in body["explain"]["rules"]
    # the feed is not a surface of this rule
    feed = await client.post("/v1/feed", json={"session_items": [PHONES[0].id], "explain": True})
    assert feed.json()["explain"]["rules"] == []


async def test_rewrite_synonyms_redirect_and_feed_rules(client: httpx.AsyncClient) -> None:
    assert _ids(await client.post("/v1/search", json={"query": "mobile"})) == []
    r = await client.put(
        "/v1/rules/mobile",
        json={
            "name": "mobile means smartphone",
            "match": {"query": {"kind": "exact", "value": "mobile"}},
            "actions": {"synonyms": ["smartphone"]},
        },
    )
    assert r.status_code == 201, r.text
    got = _ids(await client.post("/v1/search", json={"query": "Mobile"}))
    assert got and all(i in {p.id for p in PHONES} for i in got[:5])  # found by the synonym
    await client.put(
        "/v1/rules/cell",
        json={
            "name": "cell is a typo of smartphone case",
            "match": {"query": {"kind": "regex", "value": r"^cel+ ?case"}},
            "actions": {"rewrite": "phone case", "redirect": "/landing/cases"},
        },
    )
    resp = await client.post("/v1/search", json={"query": "cell case", "explain": True})
    body = resp.json()
    assert body["redirect"] == "/landing/cases"
    assert {it["id"] for it in body["items"][:3]} <= {c.id for c in CASES}
    assert "rule cell: query 'cell case' rewritten to 'phone case'" in body["explain"]["rules"]
    # a browse rule: feed only, in the Home category context
    await client.put(
        "/v1/rules/decor-feed",
        json={
            "name": "feed: bury cheap decor",
            "match": {"surfaces": ["feed"], "categories": ["Home"]},
            "actions": {"boosts": [{"attribute": "price", "max": 42, "weight": -1}]},
        },
    )
    feed = await client.post(
        "/v1/feed", json={"filters": {"categories": ["Home/Decor"]}, "explain": True}
    )
    prices = [it["price"] for it in feed.json()["items"]]
    assert prices and prices == sorted(prices, key=lambda p: p <= 42)  # the cheap ones last
    assert "rule decor-feed: matched" in feed.json()["explain"]["rules"]


async def test_bad_rules_are_refused_whole_with_the_field(client: httpx.AsyncClient) -> None:
    cases = [
        (_rule(match={"query": {"kind": "regex", "value": "phone("}}), "match.query"),
        (
            _rule(actions={"pins": [{"item_id": "i99999", "position": 1}]}),
            "actions.pins.0.item_id",
        ),
        (
            _rule(
                match={
                    "windows": [
                        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-10T00:00:00Z"},
                        {"start": "2026-12-05T00:00:00Z", "end": "2026-12-20T00:00:00Z"},
                    ]
                }
            ),
            "match.windows",
        ),
        (
            _rule(actions={"pins": [{"item_id": CASES[0].id, "position": 101}]}),
            "actions.pins.0.position",
        ),
        (_rule(actions={}), "actions"),
    ]
    for body, field in cases:
        r = await client.put("/v1/rules/bad", json=body)
        assert r.status_code == 422, r.text
        assert any(d["field"].startswith(field) for d in r.json()["detail"]), (field, r.json())
    assert (await client.get("/v1/rules/bad")).status_code == 404  # nothing half-saved
    assert (await client.get("/v1/audit")).json()["changes"] == []
    r = await client.put("/v1/rules/Bad%20Id", json=_rule())
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "rule_id"


async def test_audit_conflict_and_rollback(client: httpx.AsyncClient) -> None:
    first = (await client.put("/v1/rules/cases", json=_rule())).json()
    changed = _rule(actions={"pins": [{"item_id": CASES[4].id, "position": 2}]})
    stale = await client.put("/v1/rules/cases", json=changed, headers={"If-Match": "0"})
    assert stale.status_code == 409 and "revision" in stale.json()["error"]
    ok = await client.put(
        "/v1/rules/cases", json=changed, headers={"If-Match": str(first["revision"])}
    )
    assert ok.status_code == 200
    ids = _ids(await client.post("/v1/search", json={"query": "phone"}))
    assert ids[1] == CASES[4].id
    log = (await client.get("/v1/audit", params={"target": "cases"})).json()["changes"]
    assert [c["action"] for c in log] == ["update", "create"]
    assert log[0]["before"]["actions"]["pins"][0]["item_id"] == CASES[2].id
    assert log[0]["after"]["actions"]["pins"][0]["item_id"] == CASES[4].id
    assert log[0]["actor"] == "anonymous (access control off)"
    back = await client.post(f"/v1/audit/{log[0]['seq']}/rollback")
    assert back.status_code == 200
    assert _ids(await client.post("/v1/search", json={"query": "phone"}))[0] == CASES[2].id
    undo_create = await client.post(f"/v1/audit/{log[1]['seq']}/rollback")
    assert undo_create.json()["rule"] is None
    assert (await client.get("/v1/rules/cases")).status_code == 404
    actions = [c["action"] for c in (await client.get("/v1/audit")).json()["changes"]]
    assert actions[:2] == [f"rollback of #{log[1]['seq']}", f"rollback of #{log[0]['seq']}"]


async def test_preview_shows_both_lists_and_stores_nothing(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/rules/preview",
        json={"surface": "search", "request": {"query": "phone"}, "rule": _rule()},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["with"]["items"][0]["id"] == CASES[2].id
    assert body["without"]["items"][0]["id"] != CASES[2].id or len(body["without"]["items"]) == 0
    assert "rule draft: matched" in body["with"]["explain"]["rules"]
    assert (await client.get("/v1/rules")).json()["rules"] == []
    bad = await client.post(
        "/v1/rules/preview",
        json={"surface": "search", "request": {"query": "phone"}, "rule": _rule(priority=5000)},
    )
    assert bad.status_code == 422 and "priority" in bad.json()["detail"][0]["field"]


async def test_another_worker_sees_the_change_within_its_poll(
    client: httpx.AsyncClient, engine: Engine, tmp_path: Path
) -> None:
    other = await make_engine(tmp_path / "second")
    other.rules.close()
    other.rules = LiveRules(ControlStore(engine.settings.control_file))  # the same control file
    other.settings = other.settings.model_copy(update={"rules_poll_s": 0.05})
    watch = asyncio.create_task(watch_rules(other))  # as its API server runs it
    try:
        assert other.rules.current.size == 0
        await client.put("/v1/rules/cases", json=_rule())
        for _ in range(100):
            if other.rules.current.size == 1:
                break
            await asyncio.sleep(0.02)
        assert other.rules.current.size == 1  # within its poll, no restart
        from engine.core.contracts import SearchRequest

        resp = await other.rank(SearchRequest(query="phone"))
        assert resp.items[0].id == CASES[2].id
    finally:
        watch.cancel()
        await other.close()
