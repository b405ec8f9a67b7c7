"""Bad input gets a 4xx with a message naming what is wrong."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.validation import describe

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


def query_seconds(request: Request, name: str, limit: float) -> float | None:
    """An optional query parameter of seconds in ``[0, limit]``; a 422 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= limit:
        msg = f"query parameter {name!r} must be a number of seconds in [0, {limit:g}], got {raw!r}"
        raise ApiError(422, msg, [{"field": name, "message": msg, "type": "value_error"}])
    return value


async def parse(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if not raw:
        raise ApiError(400, "request body is empty; expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        msg, detail = describe(exc)
        raise ApiError(422, f"invalid request: {msg}", detail) from None
