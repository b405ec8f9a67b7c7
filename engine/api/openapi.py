"""OpenAPI 3.1 document generated from the pydantic contracts, and a readable HTML page of it."""

from __future__ import annotations

import html
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from engine.api.schemas import (
    DeleteResult,
    EventsAccepted,
    ItemsBody,
    ItemsWritten,
    NewKey,
    Preview,
    Readiness,
)
from engine.contracts import (
    ErrorResponse,
    EventBatch,
    FeedRequest,
    Item,
    RankedResponse,
    SearchRequest,
)
from engine.rules.model import Rule, RuleBody

REF = "#/components/schemas/{model}"


def _ref(m: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=m.__name__)}


def _json(m: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(m)}}


def _op(
    summary: str,
    body: type[BaseModel] | None,
    ok: type[BaseModel],
    code: str = "200",
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            code: {"description": "OK", "content": _json(ok)},
            "400": {"description": "Malformed body", "content": _json(ErrorResponse)},
            "422": {"description": "Invalid field", "content": _json(ErrorResponse)},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        op["parameters"] = params
    return op


def _put_items() -> dict[str, Any]:
    op = _op(
        "Insert or update items (versioned): durable in the ingest log, then applied",
        ItemsBody,
        ItemsWritten,
        params=[
            {
                "name": "wait",
                "in": "query",
                "required": False,
                "description": "seconds to wait for the items to reach every source (default "
                "the server's setting; 0: answer once they are durable)",
                "schema": {"type": "number", "minimum": 0, "maximum": 60},
            }
        ],
    )
    op["responses"]["202"] = {
        "description": "Accepted; the items under `pending` are not in every source yet",
        "content": _json(ItemsWritten),
    }
    op["responses"]["429"] = {
        "description": "The ingest log is full; retry after the `Retry-After` header's seconds",
        "content": _json(ErrorResponse),
    }
    return op


def build_openapi(version: str) -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        SearchRequest,
        FeedRequest,
        RankedResponse,
        EventBatch,
        Item,
        ItemsBody,
        ItemsWritten,
        EventsAccepted,
        DeleteResult,
        Readiness,
        ErrorResponse,
        RuleBody,
        Rule,
        Preview,
        NewKey,
    ]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    delete_params = [
        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "version",
            "in": "query",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        },
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ShopNow Discovery",
            "version": version,
            "description": "Search and home feed from one multi-stage pipeline.",
        },
        "paths": {
            "/v1/search": {
                "post": _op("Rank items for a text query", SearchRequest, RankedResponse)
            },
            "/v1/feed": {"post": _op("Rank items for the home feed", FeedRequest, RankedResponse)},
            "/v1/events": {"post": _op("Record user events", EventBatch, EventsAccepted, "202")},
            "/v1/items": {"put": _put_items()},
            "/v1/items/{item_id}": {
                "delete": _op(
                    "Delete an item at a version", None, DeleteResult, params=delete_params
                )
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {"get": _op("Readiness of index, store and ranker", None, Readiness)},
            **_rule_paths(),
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics: latency per stage, freshness, ingest lag",
                    "responses": {
                        "200": {"description": "text/plain; version=0.0.4", "content": {}}
                    },
                }
            },
        },
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"key": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"key": []}],
    }


def _plain(summary: str, code: str = "200") -> dict[str, Any]:
    return {
        "summary": summary,
        "responses": {
            code: {"description": "OK (JSON)"},
            "401": {"description": "No or unknown API key", "content": _json(ErrorResponse)},
            "403": {"description": "The key's role is too low", "content": _json(ErrorResponse)},
        },
    }


def _rule_paths() -> dict[str, Any]:
    rid = [{"name": "rule_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    put = _op("Create or replace a rule (If-Match: revision)", RuleBody, Rule, params=rid)
    put["responses"]["201"] = {"description": "Created", "content": _json(Rule)}
    put["responses"]["409"] = {"description": "Stale revision", "content": _json(ErrorResponse)}
    return {
        "/v1/rules": {"get": _plain("The rules (merchandiser)")},
        "/v1/rules/{rule_id}": {
            "get": _op("One rule", None, Rule, params=rid),
            "put": put,
            "delete": _plain("Delete a rule"),
        },
        "/v1/rules/preview": {
            "post": _op("A request with and without a draft rule", Preview, RankedResponse)
        },
        "/v1/audit": {"get": _plain("Changes to rules and keys, newest first (?target, ?limit)")},
        "/v1/audit/{seq}/rollback": {"post": _plain("Undo change number seq")},
        "/v1/keys": {
            "get": _plain("API keys (admin)"),
            "post": _op("A new API key, returned once", NewKey, NewKey, "201"),
        },
        "/v1/keys/{key_id}": {"delete": _plain("Revoke a key")},
        "/console": {"get": _plain("The merchandising console (HTML)")},
    }


def render_docs(spec: dict[str, Any]) -> str:
    """A plain HTML page listing every operation and the schemas, no external assets."""
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op['summary'])}</td>"
                f"<td>{f'<a href=#{ref}>{ref}</a>' if ref else ''}</td></tr>"
            )
    schemas = []
    for name, sch in spec["components"]["schemas"].items():
        props = sch.get("properties", {})
        req = set(sch.get("required", []))
        fields = "".join(
            f"<li><code>{html.escape(p)}</code>{' (required)' if p in req else ''}: "
            f"{html.escape(str(v.get('type', v.get('$ref', v.get('anyOf', '')))))}"
            f"{' — ' + html.escape(v['description']) if 'description' in v else ''}</li>"
            for p, v in props.items()
        )
        schemas.append(f"<h3 id='{name}'>{name}</h3><ul>{fields}</ul>")
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>ShopNow Discovery API</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "td{padding:4px 10px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>ShopNow Discovery API {html.escape(spec['info']['version'])}</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>"
        f"<table>{''.join(rows)}</table><h2>Schemas</h2>{''.join(schemas)}</body></html>"
    )
