"""Redis online store (redis-py asyncio): one capped list per session and per user."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from engine.state.protocol import Interaction, Recorded, StoreUnavailable


class RedisStore:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        max_len: int = 200,
        ttl_s: int = 30 * 86400,
        prefix: str = "shopnow",
        timeout_s: float = 0.05,
    ) -> None:
        self._r = aioredis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._max_len = max_len
        self._ttl = ttl_s
        self._prefix = prefix

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{key}"

    async def record(self, events: Sequence[Recorded]) -> None:
        pipe = self._r.pipeline(transaction=False)
        touched: set[str] = set()
        for e in events:
            blob = orjson.dumps([e.interaction.item_id, e.interaction.kind, e.interaction.ts])
            keys = [self._key("s", e.session_id)]
            if e.user_id is not None:
                keys.append(self._key("u", e.user_id))
            for k in keys:
                pipe.rpush(k, blob)
                touched.add(k)
        for k in touched:
            pipe.ltrim(k, -self._max_len, -1)
            pipe.expire(k, self._ttl)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def _tail(self, key: str, limit: int) -> list[Interaction]:
        if limit <= 0:
            return []
        try:
            raw = await self._r.lrange(key, -limit, -1)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        out = []
        for b in raw:
            item, kind, ts = orjson.loads(b)
            out.append(Interaction(str(item), int(kind), float(ts)))
        return out

    async def session(self, session_id: str, limit: int) -> list[Interaction]:
        return await self._tail(self._key("s", session_id), limit)

    async def user(self, user_id: str, limit: int) -> list[Interaction]:
        return await self._tail(self._key("u", user_id), limit)

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._r.aclose()
