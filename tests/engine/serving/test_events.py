"""Events accepted while the online store is down wait in the server's spool, in order, and
reach the store once it answers; a full spool refuses; a stop counts what it still held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.core.contracts import Event, EventType
from engine.serving import events as events_module
from engine.serving.state.redis_store import RedisStore
from tests.engine.world import make_engine
from tests.faults import RedisProcess
from tests.servers import needs_redis

pytestmark = needs_redis
T0 = datetime(2026, 1, 2, tzinfo=UTC)


def _click(n: int, session: str = "s1") -> Event:
    return Event(
        type=EventType.click,
        ts=T0 + timedelta(seconds=n),
        session_id=session,
        item_id=f"i{n % 5}",
    )


async def test_events_wait_for_the_store_in_order(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    engine = await make_engine(tmp_path, store=RedisStore(server.url, timeout_s=0.2))
    try:
        rec = engine.events
        assert (await rec.record([_click(0)]))[1] == []
        server.stop()
        for n in (1, 2, 3):
            accepted, warnings = await rec.record([_click(n)])
            assert accepted == 1 and "wait in the server" in warnings[0]
        assert rec.spooled == 3
        await rec.drain(forever=False)  # still down: nothing is lost, nothing is sent
        assert rec.spooled == 3
        server.start()  # back, empty (no persistence): the spool fills it
        accepted, warnings = await rec.record([_click(4)])
        assert warnings == [] and rec.spooled == 0  # sent behind the spool, not before it
        got = await engine.store.session("s1", 10)
        assert [int(i.ts - T0.timestamp()) for i in got] == [1, 2, 3, 4]
        _, clk = await engine.store.counts(["i1", "i2", "i3", "i4"])
        assert clk == [1, 1, 1, 1]
    finally:
        await engine.close()
        server.stop()


async def test_a_full_spool_refuses_and_a_stop_counts_the_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "SPOOL_EVENTS", 2)
    server = RedisProcess(tmp_path)
    server.start()
    engine = await make_engine(tmp_path, store=RedisStore(server.url, timeout_s=0.2))
    server.stop()
    try:
        await engine.events.record([_click(1), _click(2)])
        with pytest.raises(events_module.StoreUnavailable, match="2 events already wait"):
            await engine.events.record([_click(3)])
        assert engine.events.spooled == 2
    finally:
        await engine.close()
    assert "shopnow_events_dropped_total 2.0" in engine.metrics.render().decode()
    assert engine.events.spooled == 0
