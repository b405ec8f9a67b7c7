"""Where Redis is: one server (``redis://``, ``rediss://``, ``unix://``), or a primary with
replicas watched by Redis Sentinel, which fails over to a replica when the primary is lost.

A Sentinel address lists the sentinels and names the monitored service::

    redis+sentinel://[:password@]host:port[,host:port...]/service[/db]

The client asks a sentinel for the current primary at every new connection, so after a
failover the connections that broke with the old primary reconnect to the promoted replica.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis import asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

SCHEME = "redis+sentinel://"
Close = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SentinelAddress:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    password: str | None = None


def parse_sentinel(url: str) -> SentinelAddress:
    """The parts of a ``redis+sentinel://`` address; ValueError says what is wrong."""
    if not url.startswith(SCHEME):
        raise ValueError(f"not a Sentinel address (want {SCHEME}...): {url!r}")
    rest = url[len(SCHEME) :]
    password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        password = unquote(auth.split(":", 1)[-1]) or None
    hosts, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ValueError(f"no service name after the sentinels in {url!r} (.../mymaster[/db])")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.strip().rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"sentinel {host!r} in {url!r} is not host:port")
        sentinels.append((name, int(port)))
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError(f"the path of {url!r} must be /service or /service/db")
    db = int(parts[1]) if len(parts) == 2 else 0
    return SentinelAddress(tuple(sentinels), parts[0], db, password)


def open_redis(url: str, **options: Any) -> tuple[aioredis.Redis, Close]:
    """A client for ``url`` with redis-py ``options`` (timeouts, retry) and the coroutine
    function that closes it (for Sentinel, the sentinels' connections too)."""
    if not url.startswith(SCHEME):
        client = aioredis.from_url(url, **options)
        return client, client.aclose
    address = parse_sentinel(url)
    timeouts = {k: v for k, v in options.items() if k.startswith("socket_")}
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(address.sentinels), sentinel_kwargs=timeouts, password=address.password, **timeouts
    )
    client = sentinel.master_for(
        address.service, db=address.db, password=address.password, **options
    )

    async def close() -> None:
        await client.aclose()
        for s in sentinel.sentinels:
            await s.aclose()

    return client, close
