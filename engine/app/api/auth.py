"""API keys with roles. ``client`` may search, ask for the feed and send events; ``merchandiser``
also manages rules (and reads their audit log, previews); ``admin`` also writes
items and manages keys. A key goes in ``Authorization: Bearer <key>`` (or ``X-API-Key``).
Each operation of the route table names the least role it needs (``engine.app.api.operations``).

Access control is on when the settings carry a bootstrap admin key (``SHOPNOW_ADMIN_KEY``);
without one the API is open, for development, and says so at start and in ``/readyz``.

The bootstrap key is the configured value itself, compared in constant time and never stored:
rotating it is changing the setting and restarting (the old value stops working then), and it
cannot be revoked through the API (the setting would bring it back). Keys made through
``POST /v1/keys`` live in the control store as keyed digests; looked-up keys are cached for a
few seconds, so a revoked key stops working within that time.
"""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request

from engine.app.api.errors import ApiError
from engine.serving.rules.database import DatabaseUnavailable
from engine.serving.rules.store import ControlStore, Key, Role

RANK: dict[Role, int] = {"client": 0, "merchandiser": 1, "admin": 2}
CACHE_S = 5.0
OPEN = Key("open", "anonymous (access control off)", "admin")
BOOTSTRAP = Key("bootstrap", "bootstrap admin", "admin")


class Keys:
    def __init__(self, store: ControlStore, admin_secret: str | None) -> None:
        self.store = store
        self.enforce = admin_secret is not None
        self._admin = None if admin_secret is None else admin_secret.encode()
        self._cache: dict[str, tuple[Key | None, float]] = {}
        if self.enforce:
            store.retire_stored_bootstrap()

    def lookup(self, secret: str) -> Key | None:
        presented = secret.encode("utf-8", "surrogatepass")
        if self._admin is not None and hmac.compare_digest(presented, self._admin):
            return BOOTSTRAP
        d = self.store.digest(secret)
        hit = self._cache.get(d)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            key = self.store.key(secret)
        except DatabaseUnavailable:
            if hit is None:
                raise
            return hit[0]  # the control database is away: the last answer for this key stands
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[d] = (key, now + CACHE_S)
        return key


def presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authorize(request: Request, need: Role | None) -> Key:
    """The caller's key, checked against the least role ``need`` (None: an open route); a 401
    or 403 saying what is missing otherwise. The key is kept on the request for :func:`actor`."""
    keys: Keys | None = getattr(request.app.state, "keys", None)
    if keys is None or not keys.enforce or need is None:
        request.state.key = OPEN
        return OPEN
    secret = presented(request)
    if secret is None:
        raise ApiError(
            401,
            "an API key is required: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = keys.lookup(secret)
    if key is None:
        raise ApiError(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if RANK[key.role] < RANK[need]:
        raise ApiError(403, f"key {key.id} has role {key.role}; {request.url.path} needs {need}")
    request.state.key = key
    return key


def caller(request: Request) -> Key:
    """The key of this request (set by :func:`authorize`)."""
    key: Key = getattr(request.state, "key", OPEN)
    return key


def actor(request: Request) -> str:
    """Who the audit log records for this request: the key's name and id."""
    key = caller(request)
    return key.name if key is OPEN else f"{key.name} ({key.id})"
