"""API keys with roles. ``client`` may search, ask for the feed and send events; ``merchandiser``
also manages rules (and reads their audit log, previews); ``admin`` also writes
items and manages keys. A key goes in ``Authorization: Bearer <key>`` (or ``X-API-Key``).

Access control is on when the settings carry a bootstrap admin key (``SHOPNOW_ADMIN_KEY``);
without one the API is open, for development, and says so at start and in ``/readyz``.
Looked-up keys are cached for a few seconds: a revoked key stops working within that time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from engine.api.errors import ApiError
from engine.rules.store import ControlStore, Key, Role, digest

RANK: dict[Role, int] = {"client": 0, "merchandiser": 1, "admin": 2}
CACHE_S = 5.0
OPEN = Key("open", "anonymous (access control off)", "admin")

# path prefix -> the least role allowed; paths not listed are open (health, metrics, docs, and
# the console's static page: everything it shows comes from /v1 calls made with the user's key)
NEEDS: tuple[tuple[str, Role], ...] = (
    ("/v1/search", "client"),
    ("/v1/feed", "client"),
    ("/v1/events", "client"),
    ("/v1/rules", "merchandiser"),
    ("/v1/audit", "merchandiser"),
    ("/v1/items", "admin"),
    ("/v1/keys", "admin"),
)


def needed_role(path: str) -> Role | None:
    for prefix, role in NEEDS:
        if path == prefix or path.startswith(prefix + "/"):
            return role
    return None


class Keys:
    def __init__(self, store: ControlStore, enforce: bool) -> None:
        self.store = store
        self.enforce = enforce
        self._cache: dict[str, tuple[Key | None, float]] = {}

    def lookup(self, secret: str) -> Key | None:
        d = digest(secret)
        hit = self._cache.get(d)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        key = self.store.key(secret)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[d] = (key, now + CACHE_S)
        return key


def presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def caller(request: Request) -> Key:
    """The key of this request (set by :class:`AuthMiddleware`)."""
    key: Key = getattr(request.state, "key", OPEN)
    return key


def actor(request: Request) -> str:
    """Who the audit log records for this request: the key's name and id."""
    key = caller(request)
    return key.name if key is OPEN else f"{key.name} ({key.id})"


class AuthMiddleware(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        keys: Keys | None = getattr(request.app.state, "keys", None)
        need = needed_role(request.url.path)
        if keys is None or not keys.enforce or need is None:
            request.state.key = OPEN
            return await call_next(request)
        secret = presented(request)
        if secret is None:
            return ApiError(
                401,
                "an API key is required: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            ).response()
        key = keys.lookup(secret)
        if key is None:
            return ApiError(401, "unknown or revoked API key").response()
        if RANK[key.role] < RANK[need]:
            return ApiError(
                403, f"key {key.id} has role {key.role}; {request.url.path} needs {need}"
            ).response()
        request.state.key = key
        return await call_next(request)
