"""The store conformance suite against a live redis-server (started by the test command)."""

import uuid
from collections.abc import AsyncIterator

import pytest

from engine.core.online_store import Interaction, Recorded, StoreUnavailable
from engine.serving.state.redis_store import RedisStore
from tests.engine.serving.state.conformance import StoreConformance
from tests.servers import REDIS_SENTINEL_URL, REDIS_URL, needs_redis, needs_sentinel

URL = REDIS_URL
pytestmark = needs_redis


class TestRedisStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RedisStore]:
        # generous timeouts: these tests check behaviour, and CI machines can be loaded
        s = RedisStore(URL, max_len=5, prefix=f"t{uuid.uuid4().hex}", timeout_s=2.0)
        yield s
        await s.close()


@needs_sentinel
class TestRedisSentinelStore(StoreConformance):
    """The same suite through Sentinel: the store finds the primary by asking the sentinels."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[RedisStore]:
        s = RedisStore(REDIS_SENTINEL_URL, max_len=5, prefix=f"t{uuid.uuid4().hex}", timeout_s=2.0)
        yield s
        await s.close()


async def test_unreachable_redis_raises_store_unavailable() -> None:
    s = RedisStore("redis://127.0.0.1:1/0", timeout_s=0.05)
    with pytest.raises(StoreUnavailable):
        await s.session("x", 5)
    with pytest.raises(StoreUnavailable):
        await s.record([Recorded("s", None, Interaction("i", 1, 0.0))])
    assert await s.ping() is False
    await s.close()
