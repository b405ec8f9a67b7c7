"""A Redis restart: the pooled connections it broke are retried once, so the first request
after the restart succeeds; a Redis that stays down fails fast, without backing off."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devtools.opensearch_node.process import free_port
from engine.core.online_store import Interaction, Recorded, StoreUnavailable
from engine.serving.state.redis_store import RedisStore
from tests.servers import needs_redis

pytestmark = needs_redis


class RedisProcess:
    """A redis-server of this test's own, which it may stop and start again on one port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None, "redis-server is installed by scripts/setup.sh"
        args = [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        self.proc = subprocess.Popen([*args, "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


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
