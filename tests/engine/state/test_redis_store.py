"""The store conformance suite against a live redis-server (started by the test command)."""

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from engine.state.protocol import Interaction, Recorded, StoreUnavailable
from engine.state.redis_store import RedisStore
from tests.engine.state.conformance import StoreConformance

URL = os.environ.get("SHOPNOW_TEST_REDIS_URL")
if URL is None and os.environ.get("CI"):
    raise RuntimeError("CI must provide SHOPNOW_TEST_REDIS_URL (scripts/test.sh starts redis)")
pytestmark = pytest.mark.skipif(
    URL is None, reason="no redis: run the tests with `make test`, which starts redis-server"
)


class TestRedisStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RedisStore]:
        assert URL is not None
        s = RedisStore(URL, max_len=5, prefix=f"t{uuid.uuid4().hex}")
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
