"""Over HTTP: a rule with a catastrophic-backtracking pattern is stored and acts, and the query
that froze the worker for seconds with Python's re is answered at once, /healthz beside it; a
pattern RE2 cannot compile is refused with a 422 naming ``match.query`` and saying why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engine.app.api.app import create_app
from tests.engine.world import CASES, close_engine, make_engine

PATHOLOGICAL = "a" * 26 + " b"  # 4 to 8 s with Python's re for (a+)+$


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    engine = await make_engine(tmp_path)  # the rules act the same on every backend
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    await close_engine(engine)


def _regex_rule(pattern: str) -> dict[str, object]:
    return {
        "name": "a pattern that backtracks catastrophically in Python's re",
        "match": {"query": {"kind": "regex", "value": pattern}, "surfaces": ["search"]},
        "actions": {"pins": [{"item_id": CASES[2].id, "position": 1}]},
    }


async def test_a_redos_pattern_is_answered_at_once(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/rules/redos", json=_regex_rule(r"(a+)+$"))
    assert r.status_code == 201, r.text
    warm = await client.post("/v1/search", json={"query": "aaaa"})  # the rule acts
    assert warm.status_code == 200, warm.text
    assert warm.json()["items"][0]["id"] == CASES[2].id

    start = time.perf_counter()
    search, health = await asyncio.gather(
        client.post("/v1/search", json={"query": PATHOLOGICAL, "explain": True}),
        client.get("/healthz"),
    )
    took = time.perf_counter() - start
    assert search.status_code == 200, search.text
    assert health.status_code == 200, health.text
    assert took < 1.0, f"{took:.2f} s"  # 4 to 8 s with Python's re, the event loop blocked
    assert CASES[2].id not in [it["id"] for it in search.json()["items"]]  # no match: no pin


async def test_a_backreference_is_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    r = await client.put("/v1/rules/backref", json=_regex_rule(r"(\w+) \1"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [d["field"] for d in detail] == ["match.query"], detail
    assert "RE2" in detail[0]["message"] and "linear" in detail[0]["message"], detail
    assert "backreferences" in detail[0]["message"], detail
    assert (await client.get("/v1/rules/backref")).status_code == 404  # nothing stored
