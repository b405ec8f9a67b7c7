"""Rules, their audit log and preview, API keys, and the console page over HTTP.

A rule write is validated whole (the schema, then the catalog: pinned and hidden items must
exist) before anything is stored; the change and its audit entry are one transaction. The
worker that took the write reloads the rules at once; the others within
``SHOPNOW_RULES_POLL_S``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from engine.app.api.auth import BOOTSTRAP, actor, caller
from engine.app.api.errors import ApiError
from engine.app.api.operations import Operation, Reply, body
from engine.app.api.params import INT64_MAX, IntParam, TextParam
from engine.app.api.schemas import (
    AuditChange,
    AuditPage,
    KeyCreated,
    KeyInfo,
    KeyList,
    KeyRevoked,
    NewKey,
    Preview,
    PreviewResult,
    RolledBack,
    RuleDeleted,
    RuleList,
)
from engine.core.contracts import FeedRequest, SearchRequest, Surface
from engine.core.rules.model import Rule, RuleBody
from engine.core.validation import describe
from engine.serving.rules.ruleset import RuleSet
from engine.serving.rules.store import ROLES, Conflict, Role
from engine.serving.service import Engine

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
RULE_ID = TextParam("rule_id", "path", "rule id", max_length=64)
NEW_RULE_ID = TextParam(
    "rule_id",
    "path",
    "rule id: lowercase letters, digits, '-' and '_', at most 64",
    pattern=RULE_ID_PATTERN,
    max_length=64,
)
IF_MATCH = IntParam(
    "if-match",
    "header",
    "the rule's revision this change was made against (0: the rule must not exist yet); a "
    "stale one gets 409",
    quoted=True,
)
TARGET = TextParam("target", "query", "only changes of this rule, key or item")
LIMIT = IntParam("limit", "query", "how many changes, newest first", lo=1, hi=1000, default=100)
SEQ = IntParam("seq", "path", "the change number (`seq` in the audit log)", lo=1, hi=INT64_MAX)
KEY_ID = TextParam("key_id", "path", "key id")


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


async def _reload(engine: Engine) -> None:
    await asyncio.to_thread(engine.rules.refresh)


async def list_rules(request: Request) -> Reply:
    return Reply(RuleList(rules=await asyncio.to_thread(_engine(request).rules.control.rules)))


async def get_rule(request: Request) -> Reply:
    rule_id = RULE_ID.need(request)
    rule = await asyncio.to_thread(_engine(request).rules.control.rule, rule_id)
    if rule is None:
        raise ApiError(404, f"rule {rule_id!r} not found")
    return Reply(rule)


async def put_rule(request: Request) -> Reply:
    engine = _engine(request)
    rule_id = NEW_RULE_ID.need(request)
    expect = IF_MATCH.read(request)
    rule_body = body(request, RuleBody)
    check_items(engine, rule_body)
    existed = await asyncio.to_thread(engine.rules.control.rule, rule_id) is not None
    try:
        rule = await asyncio.to_thread(
            engine.rules.control.put_rule,
            rule_id,
            rule_body,
            actor(request),
            expect_revision=expect,
        )
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None
    await _reload(engine)
    return Reply(rule, 200 if existed else 201)


async def delete_rule(request: Request) -> Reply:
    engine = _engine(request)
    try:
        rule = await asyncio.to_thread(
            engine.rules.control.delete_rule, RULE_ID.need(request), actor(request)
        )
    except Conflict as exc:
        raise ApiError(404, str(exc)) from None
    await _reload(engine)
    return Reply(RuleDeleted(deleted=rule))


async def audit(request: Request) -> Reply:
    changes = await asyncio.to_thread(
        _engine(request).rules.control.history, TARGET.read(request), LIMIT.need(request)
    )
    return Reply(AuditPage(changes=[AuditChange.model_validate(c.to_json()) for c in changes]))


async def rollback(request: Request) -> Reply:
    engine = _engine(request)
    seq = SEQ.need(request)
    try:
        rule = await asyncio.to_thread(engine.rules.control.rollback, seq, actor(request))
    except Conflict as exc:
        status = 404 if str(exc).startswith("no change") else 409
        raise ApiError(status, str(exc)) from None
    await _reload(engine)
    return Reply(RolledBack(rule=rule))


async def preview(request: Request) -> Reply:
    """The same request served with the live rules and with the draft, side by side."""
    engine = _engine(request)
    draft_of = body(request, Preview)
    check_items(engine, draft_of.rule)
    model = SearchRequest if draft_of.surface == Surface.search else FeedRequest
    try:  # as strict as the request's own route
        raw = orjson.dumps({**draft_of.request, "explain": True})
        req = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        msg, detail = describe(exc)
        detail = [{**d, "field": f"request.{d['field']}"} for d in detail]
        raise ApiError(422, f"invalid preview request: {msg}", detail) from None
    live = [
        r for r in await asyncio.to_thread(engine.rules.control.rules) if r.id != draft_of.rule_id
    ]
    draft = Rule(**draft_of.rule.model_dump(), id=draft_of.rule_id, revision=10**12)
    without = await engine.rank(req)
    with_draft = await engine.rank(req, rules=RuleSet([*live, draft], -1))
    return Reply(PreviewResult.model_validate({"without": without, "with": with_draft}))


async def create_key(request: Request) -> Reply:
    new = body(request, NewKey)
    role: Role = new.role
    assert role in ROLES
    key, secret = await asyncio.to_thread(
        _engine(request).rules.control.create_key, new.name, role, actor(request)
    )
    return Reply(KeyCreated(id=key.id, name=key.name, role=key.role, key=secret), 201)


async def list_keys(request: Request) -> Reply:
    stored = await asyncio.to_thread(_engine(request).rules.control.keys)
    keys = [KeyInfo.model_validate(k) for k in stored]
    if request.app.state.keys.enforce:
        b = BOOTSTRAP
        keys.insert(
            0,
            KeyInfo(
                id=b.id, name=b.name, role=b.role, created_at=None, revoked=False, configured=True
            ),
        )
    return Reply(KeyList(keys=keys))


async def revoke_key(request: Request) -> Reply:
    key_id = KEY_ID.need(request)
    if key_id == BOOTSTRAP.id:
        raise ApiError(
            409,
            "the bootstrap admin key is SHOPNOW_ADMIN_KEY itself: to retire it, change the "
            "setting and restart (the old value stops working then)",
        )
    if key_id == caller(request).id:
        raise ApiError(409, f"key {key_id} is the key of this request: revoke it with another")
    try:
        await asyncio.to_thread(_engine(request).rules.control.revoke_key, key_id, actor(request))
    except Conflict as exc:
        raise ApiError(404, str(exc)) from None
    return Reply(KeyRevoked(revoked=key_id))


STATIC = Path(__file__).parent / "static"


async def console(request: Request) -> Response:
    return HTMLResponse((STATIC / "console.html").read_text("utf-8"))


async def console_js(request: Request) -> Response:
    return Response((STATIC / "console.js").read_text("utf-8"), media_type="text/javascript")


MERCH: Role = "merchandiser"
ADMIN: Role = "admin"
OPERATIONS: list[Operation] = [
    Operation(
        "GET", "/console", console, "The merchandising console", {200: None}, media="text/html"
    ),
    Operation(
        "GET",
        "/console/app.js",
        console_js,
        "The console's script",
        {200: None},
        media="text/javascript",
    ),
    Operation("GET", "/v1/rules", list_rules, "The rules", {200: RuleList}, role=MERCH),
    Operation(
        "POST",
        "/v1/rules/preview",
        preview,
        "A request served with and without a draft rule",
        {200: PreviewResult},
        role=MERCH,
        body=Preview,
        body_class="rules",
    ),
    Operation(
        "GET",
        "/v1/rules/{rule_id}",
        get_rule,
        "One rule",
        {200: Rule},
        role=MERCH,
        params=(RULE_ID,),
    ),
    Operation(
        "PUT",
        "/v1/rules/{rule_id}",
        put_rule,
        "Create (201) or replace (200) a rule; If-Match: the revision it was edited from",
        {200: Rule, 201: Rule},
        role=MERCH,
        body=RuleBody,
        body_class="rules",
        params=(NEW_RULE_ID, IF_MATCH),
        errors={409: "The stored rule is at another revision than If-Match"},
    ),
    Operation(
        "DELETE",
        "/v1/rules/{rule_id}",
        delete_rule,
        "Delete a rule",
        {200: RuleDeleted},
        role=MERCH,
        params=(RULE_ID,),
    ),
    Operation(
        "GET",
        "/v1/audit",
        audit,
        "Changes to rules, keys and items, newest first",
        {200: AuditPage},
        role=MERCH,
        params=(TARGET, LIMIT),
    ),
    Operation(
        "POST",
        "/v1/audit/{seq}/rollback",
        rollback,
        "Undo change number seq (rule changes only)",
        {200: RolledBack},
        role=MERCH,
        params=(SEQ,),
        errors={409: "The change is not a rule change, or its rule is already gone"},
    ),
    Operation(
        "POST",
        "/v1/keys",
        create_key,
        "A new API key, its secret returned once",
        {201: KeyCreated},
        role=ADMIN,
        body=NewKey,
    ),
    Operation("GET", "/v1/keys", list_keys, "API keys", {200: KeyList}, role=ADMIN),
    Operation(
        "DELETE",
        "/v1/keys/{key_id}",
        revoke_key,
        "Revoke a key",
        {200: KeyRevoked},
        role=ADMIN,
        params=(KEY_ID,),
        errors={409: "The configured bootstrap key, or the caller's own key"},
    ),
]
