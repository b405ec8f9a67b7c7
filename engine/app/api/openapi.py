"""The OpenAPI 3.1 document, generated from the route table (``engine.app.api.operations``) and
the pydantic models it names, and a readable HTML page of it. Nothing here is written by hand
per route: an operation's parameters, body, replies, error statuses and role all come from its
table entry, the same entry the server runs.
"""

from __future__ import annotations

import html
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaValue, models_json_schema

from engine.app.api.operations import JSON, Operation
from engine.core.contracts import ErrorResponse

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]


def _models(ops: list[Operation]) -> list[tuple[type[BaseModel], Mode]]:
    seen: dict[tuple[type[BaseModel], Mode], None] = {(ErrorResponse, "serialization"): None}
    for op in ops:
        if op.body is not None:
            seen[(op.body, "validation")] = None
        for model in op.replies.values():
            if model is not None:
                seen[(model, "serialization")] = None
    return list(seen)


def _content(media: str, schema: JsonSchemaValue | None) -> dict[str, Any]:
    return {media: {"schema": schema}} if schema is not None else {media: {}}


def _operation(
    op: Operation, refs: dict[tuple[type[BaseModel], Mode], JsonSchemaValue]
) -> dict[str, Any]:
    error = refs[(ErrorResponse, "serialization")]
    responses: dict[str, Any] = {}
    for status, model in sorted(op.replies.items()):
        schema = None if model is None else refs[(model, "serialization")]
        responses[str(status)] = {"description": "OK", "content": _content(op.media, schema)}
    for status, why in sorted(op.error_statuses().items()):
        responses[str(status)] = {"description": why, "content": _content(JSON, error)}
    for code, entry in responses.items():
        if code == "503":
            entry["headers"] = {
                "Retry-After": {
                    "description": "seconds after which to try again",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    "required": True,
                }
            }
    out: dict[str, Any] = {
        "operationId": f"{op.method.lower()}_{op.handler.__name__}",
        "summary": op.summary,
        "responses": responses,
        "security": [] if op.role is None else [{"bearer": []}, {"apiKey": []}],
    }
    if op.role is not None:
        out["description"] = f"Needs a key with role {op.role} or higher."
    if op.params:
        out["parameters"] = [p.openapi() for p in op.params]
    if op.body is not None:
        schema = refs[(op.body, "validation")]
        out["requestBody"] = {"required": True, "content": _content(JSON, schema)}
    return out


def build_openapi(version: str, ops: list[Operation]) -> dict[str, Any]:
    keyed, defs = models_json_schema(_models(ops), ref_template=REF)
    refs: dict[tuple[type[BaseModel], Mode], JsonSchemaValue] = {
        (m, mode): v for (m, mode), v in keyed.items() if issubclass(m, BaseModel)
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ShopNow Discovery",
            "version": version,
            "description": "Search and home feed from one multi-stage pipeline.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
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
