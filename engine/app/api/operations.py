"""The route table: every API operation declared once, with its least role, body model and body
size class, parameters, and replies. The Starlette routes, the access checks and the OpenAPI
document (``engine.app.api.openapi``) are all made from it, so the document says what the server
does: a handler returns a :class:`Reply` whose model must be the one declared for its status,
and every error status an operation can answer is listed from what it declares (a body: 400,
413, 422; parameters: 422; a path parameter: 404; a role: 401, 403).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.app.api.auth import authorize
from engine.app.api.errors import ApiError, parse
from engine.app.api.params import Param
from engine.core.settings import BODY_LIMITS, BodyClass
from engine.serving.rules.database import DatabaseUnavailable
from engine.serving.rules.store import Role

log = logging.getLogger("shopnow.api")
JSON = "application/json"
RETRY_AFTER_S = "2"  # an unavailable dependency is usually back within seconds
M = TypeVar("M", bound=BaseModel)
_NONE: Mapping[int, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Reply:
    """What a JSON handler answers: a declared model, its status, extra headers."""

    body: BaseModel
    status: int = 200
    headers: dict[str, str] | None = None


Handler = Callable[[Request], Awaitable[Reply | Response]]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    replies: Mapping[int, type[BaseModel] | None]  # non-error answers; None: not JSON
    role: Role | None = None  # least role; None: open to anyone
    body: type[BaseModel] | None = None
    body_class: BodyClass = "query"
    params: tuple[Param, ...] = ()
    errors: Mapping[int, str] = field(default_factory=lambda: _NONE)  # beyond the derived ones
    media: str = JSON  # of the non-error replies

    def error_statuses(self) -> dict[int, str]:
        """Every error status the operation may answer, with what it means."""
        out: dict[int, str] = {}
        if self.body is not None:
            out[400] = "The body is empty or not JSON"
            out[413] = "The body is larger than this route's limit (SHOPNOW_BODY_LIMITS)"
            out[422] = "A field of the body is invalid; `detail` names each"
        if self.params:
            out[422] = "A field or parameter is invalid; `detail` names each"
        if any(p.where == "path" for p in self.params):
            out[404] = "No such resource"
        if self.role is not None:
            out[401] = "No API key, or an unknown or revoked one"
            out[403] = f"The key's role is below {self.role}"
        out.update(self.errors)
        return out


def body_limit(request: Request, op: Operation) -> int:
    settings = getattr(request.app.state, "settings", None)
    limits = BODY_LIMITS if settings is None else settings.body_limits
    return limits.get(op.body_class, BODY_LIMITS[op.body_class])


def body(request: Request, model: type[M]) -> M:
    """The request's body, parsed and validated as its operation declares."""
    parsed = request.state.body
    assert isinstance(parsed, model), f"the operation declares {type(parsed).__name__}"
    return parsed


def _retry_after(response: Response) -> Response:
    """Every 503 says when to come back."""
    if response.status_code == 503 and "retry-after" not in response.headers:
        response.headers["Retry-After"] = RETRY_AFTER_S
    return response


def endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of ``op``: access check, body, handler, reply checked against
    the table and rendered."""

    async def run(request: Request) -> Response:
        try:
            authorize(request, op.role)
            if op.body is not None:
                request.state.body = await parse(request, op.body, body_limit(request, op))
            reply = await op.handler(request)
        except ApiError as exc:
            return _retry_after(exc.response())
        except DatabaseUnavailable as exc:  # the shared control database (keys, rules)
            return _retry_after(ApiError(503, f"{exc}; retry later").response())
        if isinstance(reply, Response):  # a page, a document, metrics: declared as not a model
            if op.replies.get(reply.status_code, BaseModel) is not None:
                raise TypeError(f"{op.method} {op.path} must answer {reply.status_code} as a Reply")
            return _retry_after(reply)
        declared = op.replies.get(reply.status)
        if declared is None or type(reply.body) is not declared:
            raise TypeError(
                f"{op.method} {op.path} answered {reply.status} with "
                f"{type(reply.body).__name__}; the table declares {declared}"
            )
        response = Response(
            reply.body.model_dump_json(by_alias=True),
            status_code=reply.status,
            media_type=JSON,
            headers=reply.headers,
        )
        return _retry_after(response)

    run.__name__ = op.handler.__name__
    return run


def routes(operations: list[Operation]) -> list[Route]:
    """One Starlette route per path and method."""
    seen: set[tuple[str, str]] = set()
    out = []
    for op in operations:
        key = (op.method, op.path)
        assert key not in seen, f"{op.method} {op.path} is declared twice"
        seen.add(key)
        out.append(Route(op.path, endpoint(op), methods=[op.method]))
    return out
