"""API keys and roles: with an admin key configured every /v1 call needs a key of the right
role; the audit log names who changed what."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from engine.app.api import auth
from engine.app.api.app import create_app
from engine.serving.service import Engine
from tests.engine.fixtures import item
from tests.engine.world import CASES

ADMIN = "admin-secret-for-tests-0123456789"


@pytest.fixture
async def guarded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setattr(auth, "CACHE_S", 0.0)  # a revocation is seen at once
    engine.settings = engine.settings.model_copy(update={"admin_key": ADMIN})
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


RULE = {
    "name": "pin a case",
    "match": {"query": {"kind": "contains", "value": "phone"}},
    "actions": {"pins": [{"item_id": CASES[2].id, "position": 1}]},
}


async def test_roles(guarded: httpx.AsyncClient) -> None:
    c = guarded
    assert (await c.get("/healthz")).status_code == 200  # health stays open
    r = await c.post("/v1/search", json={"query": "phone"})
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert (
        await c.post("/v1/search", json={"query": "phone"}, headers=_as("nope"))
    ).status_code == 401

    keys = {}
    for role in ("client", "merchandiser"):
        r = await c.post("/v1/keys", json={"name": f"{role} one", "role": role}, headers=_as(ADMIN))
        assert r.status_code == 201, r.text
        keys[role] = r.json()["key"]
    bad = await c.post("/v1/keys", json={"name": "x", "role": "owner"}, headers=_as(ADMIN))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "role"

    client, merch = _as(keys["client"]), _as(keys["merchandiser"])
    assert (await c.post("/v1/search", json={"query": "phone"}, headers=client)).status_code == 200
    click = {
        "type": "click",
        "item_id": CASES[0].id,
        "session_id": "s1",
        "ts": "2026-01-02T00:00:00Z",
    }
    events = {"events": [click]}
    assert (await c.post("/v1/events", json=events, headers=client)).status_code == 202
    r = await c.put("/v1/rules/cases", json=RULE, headers=client)
    assert r.status_code == 403 and "needs merchandiser" in r.json()["error"]
    assert (await c.get("/v1/audit", headers=client)).status_code == 403
    new = {"items": [item(950, title="Phone stand").model_dump(mode="json")]}
    assert (await c.put("/v1/items", json=new, headers=client)).status_code == 403

    assert (await c.put("/v1/rules/cases", json=RULE, headers=merch)).status_code == 201
    assert (await c.post("/v1/search", json={"query": "phone"}, headers=merch)).status_code == 200
    r = await c.put("/v1/items", json=new, headers=merch)
    assert r.status_code == 403 and "needs admin" in r.json()["error"]
    assert (
        await c.post("/v1/keys", json={"name": "x", "role": "admin"}, headers=merch)
    ).status_code == 403

    assert (await c.put("/v1/items", json=new, headers=_as(ADMIN))).status_code in (200, 202)
    log = (await c.get("/v1/audit", headers=merch)).json()["changes"]
    rule_by = [ch["actor"] for ch in log if ch["kind"] == "rule"]
    assert len(rule_by) == 1 and rule_by[0].startswith("merchandiser one (key-")
    keys_by = [ch["actor"] for ch in log if ch["action"] == "key create"]  # newest first
    # the bootstrap key is the setting itself: never stored, so never created in the log
    assert keys_by == ["bootstrap admin (bootstrap)"] * 2
    assert all("key" not in (ch["after"] or {}) for ch in log)  # secrets are never logged
    wrote = [ch for ch in log if ch["kind"] == "items"]
    assert [ch["action"] for ch in wrote] == ["items upsert"]
    assert wrote[0]["actor"].startswith("bootstrap admin") and wrote[0]["target"] == "i950"
    assert wrote[0]["before"] == {"versions": {}} and wrote[0]["after"] == {"versions": {"i950": 1}}
    r = await c.post(f"/v1/audit/{wrote[0]['seq']}/rollback", headers=merch)
    assert r.status_code == 409 and "only rule changes roll back" in r.json()["error"]

    listed = (await c.get("/v1/keys", headers=_as(ADMIN))).json()["keys"]
    client_id = next(k["id"] for k in listed if k["name"] == "client one")
    assert (await c.delete(f"/v1/keys/{client_id}", headers=_as(ADMIN))).status_code == 200
    r = await c.post("/v1/search", json={"query": "phone"}, headers=client)
    assert r.status_code == 401 and "revoked" in r.json()["error"]


async def _app(engine: Engine, admin: str) -> httpx.AsyncClient:
    engine.settings = engine.settings.model_copy(update={"admin_key": admin})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://t"
    )


async def test_rotating_the_configured_key_retires_the_old_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "CACHE_S", 0.0)
    old, new = ADMIN, "a-rotated-admin-secret-9876543210"
    async with await _app(engine, old) as c:
        r = await c.post("/v1/keys", json={"name": "app", "role": "client"}, headers=_as(old))
        made = r.json()
        r = await c.delete("/v1/keys/bootstrap", headers=_as(old))
        assert r.status_code == 409 and "SHOPNOW_ADMIN_KEY" in r.json()["error"]
        r = await c.delete(f"/v1/keys/{made['id']}", headers=_as(made["key"]))
        assert r.status_code == 403  # a client key manages no keys
    async with await _app(engine, new) as c:  # a restart with another configured key
        assert (await c.get("/v1/keys", headers=_as(old))).status_code == 401
        listed = (await c.get("/v1/keys", headers=_as(new))).json()["keys"]
        assert listed[0] == {
            "id": "bootstrap",
            "name": "bootstrap admin",
            "role": "admin",
            "created_at": None,
            "revoked": False,
            "configured": True,
        }
        # keys made through the API outlive the rotation
        r = await c.post("/v1/search", json={"query": "phone"}, headers=_as(made["key"]))
        assert r.status_code == 200
    async with await _app(engine, old) as c:  # rolled back to the old value: it works again
        assert (await c.get("/v1/keys", headers=_as(old))).status_code == 200


async def test_key_ids_and_the_audit_log_say_nothing_of_secrets(guarded: httpx.AsyncClient) -> None:
    import hashlib

    ids = set()
    for n in range(3):
        r = await guarded.post(
            "/v1/keys", json={"name": f"k{n}", "role": "client"}, headers=_as(ADMIN)
        )
        ids.add(r.json()["id"])
        sha = hashlib.sha256(r.json()["key"].encode()).hexdigest()
        assert sha[:8] not in r.json()["id"]
    assert len(ids) == 3
    log = (await guarded.get("/v1/audit", headers=_as(ADMIN))).text
    assert hashlib.sha256(ADMIN.encode()).hexdigest()[:8] not in log
    assert "bootstrap admin (bootstrap)" in log
