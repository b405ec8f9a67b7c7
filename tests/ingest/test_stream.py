"""Catalog changes from a Redis stream, against the real Redis the test command starts:
acknowledged only once durable in the ingest log, re-read after a crash, held when the log is
full, bad entries dead-lettered."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis import asyncio as aioredis

from engine.serving.service import Engine
from ingest.deadletter import DeadLetters
from ingest.log import LogFull
from ingest.stream import StreamConsumer
from tests.engine.fixtures import item
from tests.engine.world import close_engine, make_engine
from tests.servers import REDIS_URL, needs_redis

pytestmark = needs_redis


def _entry(i: int, **kw: Any) -> dict[str, bytes]:
    return {"change": orjson.dumps(item(i, **kw).model_dump(mode="json"))}


@dataclass
class World:
    engine: Engine
    consumer: StreamConsumer
    redis: aioredis.Redis
    stream: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = await make_engine(tmp_path)
    stream = f"t-{uuid.uuid4().hex}"
    dead = DeadLetters(engine.settings.ingest_path)
    consumer = StreamConsumer(REDIS_URL, stream, engine.writes.worker.accept, dead, block_ms=100)
    await consumer._ensure_group()
    r = aioredis.from_url(REDIS_URL)
    try:
        yield World(engine, consumer, r, stream)
    finally:
        await r.delete(stream)
        await r.aclose()
        await consumer.close()
        await close_engine(engine)


async def test_entries_reach_the_index_and_bad_ones_are_dead_letters(world: World) -> None:
    engine, consumer, r, stream = world.engine, world.consumer, world.redis, world.stream
    await r.xadd(stream, _entry(970, title="basalt mortar"))
    await r.xadd(stream, {"change": b"[1, 2]"})
    await r.xadd(stream, {"change": orjson.dumps({"op": "delete", "id": "i3", "version": 9})})
    assert await consumer.poll() == 3
    assert (await r.xpending(stream, consumer.group))["pending"] == 0
    assert await engine.writes.drain() == 0
    assert (await engine.index.lexical("basalt mortar", 3)).ids == ["i970"]
    assert "i3" not in (await engine.index.versions(["i3"]))
    letters = DeadLetters(engine.settings.ingest_path).read()
    assert len(letters) == 1 and "JSON object" in letters[0]["reason"]
    assert letters[0]["source"].startswith(f"stream {stream} ")


async def test_a_crash_before_the_log_redelivers(world: World) -> None:
    engine, consumer, r, stream = world.engine, world.consumer, world.redis, world.stream

    async def crash(bodies: Sequence[dict[str, Any]]) -> range:
        raise RuntimeError("killed before the log append")

    await r.xadd(stream, _entry(971, title="granite pestle"))
    consumer.accept = crash
    with pytest.raises(RuntimeError):
        await consumer.poll()
    assert (await r.xpending(stream, consumer.group))["pending"] == 1  # not acknowledged
    consumer.accept = engine.writes.worker.accept  # the restarted process
    assert await consumer.poll() == 0  # nothing new ...
    assert await consumer.poll(pending=True) == 1  # ... its own unacknowledged entry again
    await engine.writes.drain()
    assert await engine.index.versions(["i971"]) == {"i971": 1}


async def test_a_full_log_acknowledges_nothing(world: World) -> None:
    engine, consumer, r, stream = world.engine, world.consumer, world.redis, world.stream
    engine.writes.ingest_log.capacity = engine.writes.ingest_log.pending + 1
    await r.xadd(stream, _entry(972))
    await r.xadd(stream, _entry(973))
    with pytest.raises(LogFull):
        await consumer.poll()
    assert (await r.xpending(stream, consumer.group))["pending"] == 2
    engine.writes.ingest_log.capacity = 1000
    assert await consumer.poll(pending=True) == 2
    await engine.writes.drain()
    assert set(await engine.index.versions(["i972", "i973"])) == {"i972", "i973"}
