"""Rules, their audit log and preview, API keys, and the console page over HTTP.

A rule write is validated whole (the schema, then the catalog: pinned and hidden items must
exist) before anything is stored; the change and its audit entry are one transaction. The
worker that took the write reloads the rules at once; the others within
``SHOPNOW_RULES_POLL_S``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from engine.api.auth import actor
from engine.api.errors import ApiError, parse
from engine.api.schemas import NewKey, Preview
from engine.contracts import FeedRequest, SearchRequest, Surface
from engine.rules.model import RuleBody
from engine.rules.ruleset import RuleSet
from engine.rules.store import ROLES, Conflict, Role
from engine.service import Engine


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def check_items(engine: Engine, body: RuleBody) -> None:
    """Pinned and hidden items must be in the catalog: a 422 naming the field otherwise."""
    detail = [
        {
            "field": f"actions.pins.{i}.item_id",
            "message": f"unknown item {p.item_id!r}",
            "type": "unknown_item",
        }
        for i, p in enumerate(body.actions.pins)
        if p.item_id not in engine.catalog.row_of
    ]
    detail += [
        {
            "field": f"actions.hide.{i}",
            "message": f"unknown item {item_id!r}",
            "type": "unknown_item",
        }
        for i, item_id in enumerate(body.actions.hide)
        if item_id not in engine.catalog.row_of
    ]
    if detail:
        raise ApiError(422, f"invalid rule: {detail[0]['field']}: {detail[0]['message']}", detail)


def _revision(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    if not raw.strip('"').isdigit():
        raise ApiError(422, f"If-Match must be a rule revision (an integer), got {raw!r}")
    return int(raw.strip('"'))


async def _reload(engine: Engine) -> None:
    await asyncio.to_thread(engine.refresh_rules)


async def list_rules(request: Request) -> Response:
    rules = await asyncio.to_thread(_engine(request).control.rules)
    return JSONResponse({"rules": [r.model_dump(mode="json") for r in rules]})


async def get_rule(request: Request) -> Response:
    rule = await asyncio.to_thread(_engine(request).control.rule, request.path_params["rule_id"])
    if rule is None:
        raise ApiError(404, f"rule {request.path_params['rule_id']!r} not found")
    return JSONResponse(rule.model_dump(mode="json"))


async def put_rule(request: Request) -> Response:
    engine = _engine(request)
    rule_id = request.path_params["rule_id"]
    _check_id(rule_id)
    body = await parse(request, RuleBody)
    check_items(engine, body)
    expect = _revision(request)
    existed = await asyncio.to_thread(engine.control.rule, rule_id) is not None
    try:
        rule = await asyncio.to_thread(
            engine.control.put_rule, rule_id, body, actor(request), expect_revision=expect
        )
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None
    await _reload(engine)
    return JSONResponse(rule.model_dump(mode="json"), status_code=200 if existed else 201)


def _check_id(rule_id: str) -> None:
    from engine.rules.model import Rule

    try:
        Rule.model_validate({"id": rule_id, "name": "x", "actions": {"hide": ["x"]}})
    except ValueError:
        raise ApiError(
            422,
            f"invalid rule id {rule_id!r}: lowercase letters, digits, '-' and '_', at most 64",
            [{"field": "id", "message": "lowercase letters, digits, - and _", "type": "pattern"}],
        ) from None


async def delete_rule(request: Request) -> Response:
    engine = _engine(request)
    try:
        rule = await asyncio.to_thread(
            engine.control.delete_rule, request.path_params["rule_id"], actor(request)
        )
    except Conflict as exc:
        raise ApiError(404, str(exc)) from None
    await _reload(engine)
    return JSONResponse({"deleted": rule.model_dump(mode="json")})


async def audit(request: Request) -> Response:
    target = request.query_params.get("target")
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(422, f"limit must be an integer in [1, 1000], got {raw!r}")
    changes = await asyncio.to_thread(_engine(request).control.history, target, int(raw))
    return JSONResponse({"changes": [c.to_json() for c in changes]})


async def rollback(request: Request) -> Response:
    engine = _engine(request)
    raw = request.path_params["seq"]
    if not raw.isdigit():
        raise ApiError(422, f"change number must be an integer, got {raw!r}")
    try:
        rule = await asyncio.to_thread(engine.control.rollback, int(raw), actor(request))
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None
    await _reload(engine)
    return JSONResponse({"rule": None if rule is None else rule.model_dump(mode="json")})


async def preview(request: Request) -> Response:
    """The same request served with the live rules and with the draft, side by side."""
    engine = _engine(request)
    body = await parse(request, Preview)
    check_items(engine, body.rule)
    model = SearchRequest if body.surface == Surface.search else FeedRequest
    try:
        req = model.model_validate({**body.request, "explain": True})
    except ValueError as exc:
        raise ApiError(422, f"invalid preview request: {exc}") from None
    from engine.rules.model import Rule

    live = [r for r in await asyncio.to_thread(engine.control.rules) if r.id != body.rule_id]
    draft = Rule(**body.rule.model_dump(), id=body.rule_id, revision=10**12)
    without = await engine.rank(req)
    with_draft = await engine.rank(req, rules=RuleSet([*live, draft], -1))
    return JSONResponse(
        {
            "without": without.model_dump(mode="json"),
            "with": with_draft.model_dump(mode="json"),
        }
    )


async def create_key(request: Request) -> Response:
    body = await parse(request, NewKey)
    role: Role = body.role
    assert role in ROLES
    key, secret = await asyncio.to_thread(
        _engine(request).control.create_key, body.name, role, actor(request)
    )
    out = {"id": key.id, "name": key.name, "role": key.role, "key": secret}
    return JSONResponse(out, status_code=201)


async def list_keys(request: Request) -> Response:
    return JSONResponse({"keys": await asyncio.to_thread(_engine(request).control.keys)})


async def revoke_key(request: Request) -> Response:
    try:
        await asyncio.to_thread(
            _engine(request).control.revoke_key, request.path_params["key_id"], actor(request)
        )
    except Conflict as exc:
        raise ApiError(404, str(exc)) from None
    return JSONResponse({"revoked": request.path_params["key_id"]})


STATIC = Path(__file__).parent / "static"


async def console(request: Request) -> Response:
    return HTMLResponse((STATIC / "console.html").read_text("utf-8"))


async def console_js(request: Request) -> Response:
    return Response((STATIC / "console.js").read_text("utf-8"), media_type="text/javascript")


ROUTES = [
    Route("/console", console, methods=["GET"]),
    Route("/console/app.js", console_js, methods=["GET"]),
    Route("/v1/rules", list_rules, methods=["GET"]),
    Route("/v1/rules/preview", preview, methods=["POST"]),
    Route("/v1/rules/{rule_id}", get_rule, methods=["GET"]),
    Route("/v1/rules/{rule_id}", put_rule, methods=["PUT"]),
    Route("/v1/rules/{rule_id}", delete_rule, methods=["DELETE"]),
    Route("/v1/audit", audit, methods=["GET"]),
    Route("/v1/audit/{seq}/rollback", rollback, methods=["POST"]),
    Route("/v1/keys", create_key, methods=["POST"]),
    Route("/v1/keys", list_keys, methods=["GET"]),
    Route("/v1/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
