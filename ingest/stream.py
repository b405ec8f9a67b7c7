"""Catalog changes from a Redis stream (consumer group), into the ingest log.

Each stream entry carries one change in its ``change`` field: an item object, or an ``{"op":
...}`` record, as in a JSONL file. Entries are acknowledged (``XACK``) only once their changes
are durable in the ingest log, so a crash between the two re-delivers them (the consumer reads
its own pending entries first on start) and versions make the repeat harmless: at least once
from the stream, exactly once in the index. An entry that is not a JSON object goes to the dead
letters with its stream id; when the log is full nothing is acknowledged and the consumer waits
the log's ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from redis.exceptions import RedisError, ResponseError

from engine.core.loops import run_forever
from engine.core.redis_address import open_redis
from ingest.deadletter import DeadLetters
from ingest.log import LogFull, upsert_body

log = logging.getLogger("shopnow.ingest.stream")

Accept = Callable[[Sequence[dict[str, Any]]], Awaitable[range]]


def _text(b: bytes) -> str:
    return b.decode(errors="replace")


def parse_entry(fields: dict[bytes, bytes]) -> tuple[dict[str, Any] | None, str]:
    """``(change body, "")`` or ``(None, reason)``."""
    raw = fields.get(b"change")
    if raw is None:
        return None, "entry has no 'change' field"
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, not {type(obj).__name__}"
    return (obj if "op" in obj else upsert_body(obj)), ""


class StreamConsumer:
    def __init__(
        self,
        redis_url: str,
        stream: str,
        accept: Accept,
        dead_letters: DeadLetters,
        *,
        group: str = "shopnow-ingest",
        consumer: str = "engine",
        batch: int = 500,
        block_ms: int = 1000,
    ) -> None:
        self._r, self._close = open_redis(redis_url, socket_timeout=block_ms / 1e3 + 5)
        self.stream, self.group, self.consumer = stream, group, consumer
        self.accept = accept
        self.dead = dead_letters
        self.batch, self.block_ms = batch, block_ms
        self.acked = 0

    async def _ensure_group(self) -> None:
        try:
            await self._r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def poll(self, pending: bool = False) -> int:
        """Read one batch (this consumer's unacknowledged entries when ``pending``), accept it
        into the log, then acknowledge it; returns the entries acknowledged."""
        start = "0" if pending else ">"
        block = None if pending else self.block_ms
        got: Any = await self._r.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=self.batch, block=block
        )
        entries: list[tuple[bytes, dict[bytes, bytes]]] = [
            (e[0], e[1]) for _, batch in got or [] for e in batch
        ]
        if not entries:
            return 0
        bodies: list[dict[str, Any]] = []
        letters: list[tuple[str, str, Any]] = []
        for entry_id, fields in entries:
            body, why = parse_entry(fields)
            if body is None:
                raw = {
                    k.decode(errors="replace"): v.decode(errors="replace")
                    for k, v in fields.items()
                }
                letters.append((f"stream {self.stream} {entry_id.decode()}", why, raw))
            else:
                bodies.append(body)
        if bodies:
            await self.accept(bodies)  # durable, or LogFull: then nothing is acknowledged
        self.dead.add_many(letters)
        n = int(await self._r.xack(self.stream, self.group, *[e for e, _ in entries]))
        self.acked += n
        return n

    async def run(self) -> None:
        """Forever (cancel to stop): first what was delivered but never acknowledged, then new
        entries as they come."""
        await self._ensure_group()
        own = True  # this consumer's unacknowledged entries first (after a crash or a refusal)

        async def step() -> int:
            nonlocal own
            pending, own = own, True  # should the poll fail, its entries are read again
            n = await self.poll(pending=pending)
            own = pending and n > 0
            return n

        def expected(exc: Exception) -> float | None:
            if isinstance(exc, LogFull):  # nothing acknowledged: wait as the log asks
                return float(exc.retry_after_s)
            if isinstance(exc, (RedisError, OSError)):
                log.warning("stream %s unreachable: %s", self.stream, exc)
                return 1.0
            return None  # anything else: logged with its traceback, retried after a second

        await run_forever(
            step,
            what=f"reading stream {self.stream}",
            log=log,
            idle=None,  # the poll itself blocks until entries come (block_ms)
            expected=expected,
            on_error_sleep=1.0,
        )

    async def close(self) -> None:
        await self._close()
