"""Bad input gets a 4xx with a message naming what is wrong."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.core.validation import describe

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        detail: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return JSONResponse(body, status_code=self.status, headers=self.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read as it streams in and refused with a 413 as soon as it passes ``limit``
    bytes (at once when ``Content-Length`` announces more): a client cannot make the server
    hold more than ``limit`` bytes of one request."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, f"Content-Length is {declared}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit, f"more than {limit} bytes were sent")
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int, what: str) -> ApiError:
    return ApiError(
        413,
        f"request body too large: {what}; this route takes at most {limit} bytes "
        "(split the batch, or raise SHOPNOW_BODY_LIMITS)",
    )


async def parse(request: Request, model: type[M], limit: int) -> M:
    """The body as ``model``, validated strictly: a JSON string is not a number, a number is
    not a boolean (JSON's own forms of dates and enums are taken as JSON writes them)."""
    raw = await read_body(request, limit)
    if not raw.strip():
        raise ApiError(400, "request body is empty; expected a JSON object")
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        msg, detail = describe(exc)
        raise ApiError(422, f"invalid request: {msg}", detail) from None
