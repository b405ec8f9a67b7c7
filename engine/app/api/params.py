"""Path, query and header parameters, each declared once: the same object parses the request
(strictly: ASCII digits, range-checked, a 422 naming the parameter otherwise) and writes its
entry in the OpenAPI document, so the two cannot disagree.

``str.isdigit`` is not a number check (it accepts ``²`` and full-width ``５``, and Python's
``int`` turns the latter into 5), and an unbounded integer overflows SQLite and the backends'
64-bit version fields; hence one strict parser here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from engine.app.api.errors import ApiError

Where = Literal["path", "query", "header"]
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?", re.ASCII)
INT64_MAX = 2**63 - 1


def _raw(request: Request, name: str, where: Where) -> str | None:
    if where == "path":
        value = request.path_params.get(name)
        return None if value is None else str(value)
    if where == "header":
        return request.headers.get(name)
    return request.query_params.get(name)


def invalid(name: str, where: Where, message: str, kind: str = "value_error") -> ApiError:
    """A 422 naming the parameter (the same body shape as a bad field of a JSON body)."""
    text = f"{where} parameter {name!r} {message}"
    return ApiError(422, text, [{"field": name, "message": text, "type": kind}])


@dataclass(frozen=True, slots=True)
class Param:
    """A declared parameter: name, place, and its JSON schema for the OpenAPI document."""

    name: str
    where: Where
    description: str
    required: bool = False

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": self.schema(),
        }


@dataclass(frozen=True, slots=True)
class IntParam(Param):
    """An integer in ``[lo, hi]`` written with ASCII digits only (no sign, no spaces)."""

    lo: int = 0
    hi: int = INT64_MAX
    default: int | None = None
    quoted: bool = False  # an entity tag: the digits may stand between double quotes

    def schema(self) -> dict[str, Any]:
        if self.quoted:
            return {"type": "string", "pattern": r'^"?[0-9]{1,19}"?$'}
        out: dict[str, Any] = {"type": "integer", "minimum": self.lo, "maximum": self.hi}
        if self.default is not None:
            out["default"] = self.default
        return out

    def read(self, request: Request) -> int | None:
        raw = _raw(request, self.name, self.where)
        if raw is None:
            if self.required or self.where == "path":
                raise invalid(self.name, self.where, f"is required: {self._range()}", "missing")
            return self.default
        text = raw.strip('"') if self.quoted else raw
        if not _DIGITS.fullmatch(text) or not self.lo <= int(text) <= self.hi:
            raise invalid(self.name, self.where, f"must be {self._range()}, got {raw[:40]!r}")
        return int(text)

    def need(self, request: Request) -> int:
        """:meth:`read` for a parameter that is required or has a default."""
        value = self.read(request)
        assert value is not None, f"{self.name} has neither a default nor required=True"
        return value

    def _range(self) -> str:
        return f"an integer in [{self.lo}, {self.hi}] (ASCII digits)"


@dataclass(frozen=True, slots=True)
class SecondsParam(Param):
    """A number of seconds in ``[0, hi]``: ASCII digits with an optional decimal part."""

    hi: float = 60.0

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": 0, "maximum": self.hi}

    def read(self, request: Request) -> float | None:
        raw = _raw(request, self.name, self.where)
        if raw is None:
            return None
        if not _DECIMAL.fullmatch(raw) or float(raw) > self.hi:
            msg = f"must be a number of seconds in [0, {self.hi:g}], got {raw[:40]!r}"
            raise invalid(self.name, self.where, msg)
        return float(raw)


@dataclass(frozen=True, slots=True)
class TextParam(Param):
    """A string; ``pattern`` (when set) is checked and documented."""

    pattern: str | None = None
    max_length: int = 256

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out

    def read(self, request: Request) -> str | None:
        raw = _raw(request, self.name, self.where)
        if raw is None:
            if self.required or self.where == "path":
                raise invalid(self.name, self.where, "is required", "missing")
            return None
        too_long = len(raw) > self.max_length
        if too_long or (self.pattern is not None and not re.search(self.pattern, raw)):
            rule = f"at most {self.max_length} characters"
            if self.pattern is not None:
                rule += f" matching {self.pattern}"
            raise invalid(self.name, self.where, f"must be {rule}, got {raw[:40]!r}")
        return raw

    def need(self, request: Request) -> str:
        value = self.read(request)
        assert value is not None, f"{self.name} is not required"
        return value
