"""Redis online store (redis-py asyncio): one capped list per session and per user. Redis is
one server or a primary with replicas under Sentinel (:mod:`engine.core.redis_address`).

Every call is tried again once, at once, when its pooled connection turns out to be dead (a
Redis restart or failover closes every connection the pool holds: without the retry the first
request on each of them would fail). Nothing else is retried: a timeout or a Redis that stays
down fails the call within its socket timeout (``StoreUnavailable``), and the request it serves
degrades; redis-py's own retries (ten, with back-off) are off, as they would outlast every
serving deadline. A retried write whose first attempt did reach Redis before the connection
broke is applied twice: at most one duplicate event or counter increment per broken connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from engine.core.online_store import (
    HALF_LIFE_S,
    REBASE_EXPONENT,
    Bump,
    Interaction,
    ItemCount,
    Recorded,
    SessionQuery,
    StoreUnavailable,
)
from engine.core.redis_address import open_redis

T = TypeVar("T")
Fill = Callable[[Pipeline], None]

# KEYS: the scope's sorted set, its landmark. ARGV: half-life, rebase exponent, only-new flag
# (1: skip items the set holds), then (item, weight, ts) triples. Atomic per scope, so servers
# sharing Redis agree on the landmark.
_BUMP = """
local hl, cap, only_new = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local landmark = tonumber(redis.call('GET', KEYS[2]))
if not landmark then
  landmark = tonumber(ARGV[6])
  redis.call('SET', KEYS[2], ARGV[6])
end
for i = 4, #ARGV, 3 do
  if not (only_new and redis.call('ZSCORE', KEYS[1], ARGV[i])) then
    local e = (tonumber(ARGV[i + 2]) - landmark) / hl
    if e > cap then
      redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', tostring(2 ^ (-e)))
      landmark = tonumber(ARGV[i + 2])
      redis.call('SET', KEYS[2], ARGV[i + 2])
      e = 0
    end
    redis.call('ZINCRBY', KEYS[1], tonumber(ARGV[i + 1]) * 2 ^ e, ARGV[i])
  end
end
return landmark
"""


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
        self._r, self._close = open_redis(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),  # this class retries a reset connection once
        )
        self._max_len = max_len
        self._ttl = ttl_s
        self._prefix = prefix

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{key}"

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        """``op``, once more if its connection was reset; Redis errors as StoreUnavailable."""
        try:
            try:
                return await op()
            except RedisConnectionError:  # the broken connection is dropped from the pool
                return await op()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def _pipeline(self, fill: Fill) -> list[Any]:
        """Commands ``fill`` queues, sent in one round trip (queued anew for a retry)."""

        async def run() -> list[Any]:
            pipe = self._r.pipeline(transaction=False)
            fill(pipe)
            return list(await pipe.execute())

        return await self._call(run)

    async def record(self, events: Sequence[Recorded]) -> None:
        def fill(pipe: Pipeline) -> None:
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

        await self._pipeline(fill)

    async def _tail(self, key: str, limit: int) -> list[Interaction]:
        if limit <= 0:
            return []
        raw = await self._call(lambda: self._r.lrange(key, -limit, -1))
        out = []
        for b in raw:
            item, kind, ts = orjson.loads(b)
            out.append(Interaction(str(item), int(kind), float(ts)))
        return out

    async def session(self, session_id: str, limit: int) -> list[Interaction]:
        return await self._tail(self._key("s", session_id), limit)

    async def user(self, user_id: str, limit: int) -> list[Interaction]:
        return await self._tail(self._key("u", user_id), limit)

    async def record_queries(self, queries: Sequence[SessionQuery]) -> None:
        def fill(pipe: Pipeline) -> None:
            touched: set[str] = set()
            for q in queries:
                key = self._key("q", q.session_id)
                pipe.rpush(key, orjson.dumps([q.query, q.ts]))
                touched.add(key)
            for key in touched:
                pipe.ltrim(key, -self._max_len, -1)
                pipe.expire(key, self._ttl)

        await self._pipeline(fill)

    async def queries(self, session_id: str, limit: int) -> list[tuple[str, float]]:
        if limit <= 0:
            return []
        key = self._key("q", session_id)
        raw = await self._call(lambda: self._r.lrange(key, -limit, -1))
        out = []
        for b in raw:
            query, ts = orjson.loads(b)
            out.append((str(query), float(ts)))
        return out

    async def bump(self, bumps: Sequence[Bump], *, only_new: bool = False) -> None:
        by_scope: dict[str, list[Bump]] = {}
        for b in bumps:
            by_scope.setdefault(b.scope, []).append(b)

        def fill(pipe: Pipeline) -> None:
            for scope, group in by_scope.items():
                args: list[str | float] = [HALF_LIFE_S, REBASE_EXPONENT, "1" if only_new else "0"]
                for b in group:
                    args += [b.item_id, b.weight, repr(b.ts)]
                pipe.eval(_BUMP, 2, self._key("p", scope), self._key("pl", scope), *args)

        await self._pipeline(fill)

    async def top(self, scope: str, k: int, now: float) -> list[tuple[str, float]]:
        if k <= 0:
            return []

        def fill(pipe: Pipeline) -> None:
            pipe.get(self._key("pl", scope))
            pipe.zrevrange(self._key("p", scope), 0, k - 1, withscores=True)

        landmark, rows = await self._pipeline(fill)
        if landmark is None:
            return []
        scale = 2.0 ** ((float(landmark) - now) / HALF_LIFE_S)
        return [(item.decode(), float(score) * scale) for item, score in rows]

    async def trim(self, scope: str, keep: int) -> None:
        key = self._key("p", scope)
        await self._call(lambda: self._r.zremrangebyrank(key, 0, -max(0, keep) - 1))

    async def remove(self, scope: str, item_ids: Sequence[str]) -> None:
        if not item_ids:
            return
        key = self._key("p", scope)
        await self._call(lambda: self._r.zrem(key, *item_ids))

    async def count(self, counts: Sequence[ItemCount]) -> None:
        imp, clk = self._key("c", "impressions"), self._key("c", "clicks")

        def fill(pipe: Pipeline) -> None:
            for c in counts:
                if c.impressions:
                    pipe.hincrby(imp, c.item_id, c.impressions)
                if c.clicks:
                    pipe.hincrby(clk, c.item_id, c.clicks)

        await self._pipeline(fill)

    async def counts(self, item_ids: Sequence[str]) -> tuple[list[int], list[int]]:
        if not item_ids:
            return [], []

        def fill(pipe: Pipeline) -> None:
            pipe.hmget(self._key("c", "impressions"), list(item_ids))
            pipe.hmget(self._key("c", "clicks"), list(item_ids))

        imp, clk = await self._pipeline(fill)
        return [int(v or 0) for v in imp], [int(v or 0) for v in clk]

    async def ping(self) -> bool:
        try:
            return bool(await self._call(self._r.ping))
        except StoreUnavailable:
            return False

    async def close(self) -> None:
        await self._close()
