"""A Redis restart: the pooled connections it broke are retried once, so the first request
after the restart succeeds; a Redis that stays down fails fast, without backing off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.core.online_store import Interaction, Recorded, StoreUnavailable
from engine.serving.state.redis_store import RedisStore
from tests.faults import RedisProcess
from tests.servers import needs_redis

pytestmark = needs_redis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()


def _event(n: int) -> Recorded:
    return Recorded("s1", None, Interaction(f"i{n}", 1, float(n)))


async def test_first_request_after_a_restart_succeeds(own_redis: RedisProcess) -> None:
    store = RedisStore(own_redis.url, timeout_s=1.0)
    try:
        # fill the pool with several connections, as concurrent requests do
        await asyncio.gather(*(store.record([_event(n)]) for n in range(8)))
        assert len(await store.session("s1", 20)) == 8
        own_redis.stop()
        own_redis.start()  # empty (no persistence), but up: every pooled connection is dead
        for n in range(8):  # each call takes one of the broken connections
            await store.record([_event(100 + n)])
            assert [i.item_id for i in await store.session("s1", 1)] == [f"i{100 + n}"]
        assert await store.ping()
    finally:
        await store.close()


async def test_a_redis_that_stays_down_fails_fast(own_redis: RedisProcess) -> None:
    store = RedisStore(own_redis.url, timeout_s=0.2)
    try:
        await store.record([_event(1)])
        own_redis.stop()
        t = time.perf_counter()
        with pytest.raises(StoreUnavailable):
            await store.session("s1", 5)
        # one immediate retry, no back-off: well under the 10-retry default of redis-py
        assert time.perf_counter() - t < 2.0
    finally:
        await store.close()
