"""One-line, field-naming descriptions of pydantic validation errors (API and CLI alike)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def describe(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    detail = []
    parts = []
    for e in exc.errors(include_url=False, include_context=False):
        loc = ".".join(str(p) for p in e["loc"]) or "(body)"
        detail.append({"field": loc, "message": e["msg"], "type": e["type"]})
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts[:10]), detail
