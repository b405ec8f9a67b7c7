"""A brand-new item nobody has touched reaches the first feed page of a shopper browsing its
category: no behaviour-based source can propose it, new_arrivals does (the exploration slots
that keep such items on the page are tested in tests/engine/serving/rerank/test_exploration.py)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from engine.core.contracts import Event, EventType, FeedRequest
from engine.core.online_store import Interaction, ItemCount, OnlineStore, Recorded, StoreUnavailable
from engine.core.pipeline.context import KIND_CLICK
from engine.core.signals import Signals
from engine.serving.cold_start import ColdStart
from engine.serving.state.embedded import EmbeddedStore
from engine.serving.state.redis_store import RedisStore
from tests.engine.fixtures import catalog, item
from tests.engine.world import BACKENDS, DECOR, close_engine, make_engine
from tests.servers import REDIS_URL, needs_redis


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_new_item_gets_onto_the_first_feed_page(tmp_path: Path, backend: str) -> None:
    engine = await make_engine(tmp_path, backend=backend)
    try:
        created = datetime.now(UTC) - timedelta(hours=1)
        new = item(990, title="Hand-thrown stoneware vase", created=created)  # Home/Decor
        assert (await engine.writes.upsert([new])).applied == ["i990"]
        resp = await engine.rank(
            FeedRequest(session_items=[DECOR[0].id], explain=True, page_size=10)
        )
        by_id = {r.id: r for r in resp.items}
        assert "i990" in by_id, [r.id for r in resp.items]
        explanation = by_id["i990"].explanation
        assert explanation is not None and "new_arrivals" in explanation.sources
        # the prior went into the online store at ingest; events on the item add evidence
        now = datetime.now(UTC)
        before = dict(await engine.store.top("new:Home", 50, now.timestamp()))["i990"]
        cart = Event(type=EventType.add_to_cart, item_id="i990", session_id="s9", ts=now)
        await engine.events.record([cart])
        after = dict(await engine.store.top("new:Home", 50, now.timestamp()))["i990"]
        assert after == pytest.approx(before + 3.0, rel=1e-4)
    finally:
        await close_engine(engine)


# -- ColdStart itself, on both online stores ----------------------------------------------------

NOW = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = 3600.0
STORES = ["embedded", pytest.param("redis", marks=needs_redis)]


def _store(kind: str) -> OnlineStore:
    if kind == "redis":
        return RedisStore(REDIS_URL, prefix=f"cs{uuid.uuid4().hex}", timeout_s=2.0)
    return EmbeddedStore()


def _world(store: OnlineStore) -> ColdStart:
    """Rows 0-2 old Phones and Decor items (Phones popular); 3-6 new ones."""
    old = NOW - timedelta(days=30)
    cat = catalog(
        [
            item(0, category=("Electronics", "Phones"), created=old),
            item(1, category=("Electronics", "Phones"), created=old),
            item(2, category=("Home", "Decor"), created=old),
            item(3, category=("Electronics", "Phones"), created=NOW - timedelta(hours=2)),
            item(4, category=("Home", "Decor"), created=NOW - timedelta(hours=2)),
            item(5, category=("Home", "Decor"), created=NOW - timedelta(hours=1)),
            item(6, category=("Home", "Lamps"), created=NOW - timedelta(hours=2)),
        ]
    )
    t = NOW.timestamp() - 86400.0
    ts = np.full(6, t)
    items = np.array([0, 0, 0, 1, 1, 2], np.int32)  # clicks: Phones 5, Decor 1
    signals = Signals.build(ts, items, np.ones(6, np.int8), cat.category.values, NOW.timestamp())
    return ColdStart(cat, signals, store, window_s=3 * 86400.0)


@pytest.fixture(params=STORES)
async def cold(request: pytest.FixtureRequest) -> AsyncIterator[ColdStart]:
    store = _store(request.param)
    try:
        yield _world(store)
    finally:
        await store.close()


async def test_prior_is_the_category_popularity(cold: ColdStart) -> None:
    pri = cold.priors(np.array([3, 4, 6], np.int64))
    pop = cold.signals.popular
    # the mean over the category's items (demand shared by its supply), new ones included
    assert pri[0] == pytest.approx((pop[0] + pop[1] + pop[3]) / 3)  # Phones
    assert pri[1] == pytest.approx((pop[2] + pop[4] + pop[5]) / 3)  # Decor
    assert 0 < pri[2] < pri[1] < pri[0]  # Lamps: no behaviour, the floor
    assert pri[2] == pytest.approx(0.1 * pop.mean())


async def test_admission_seeds_once_and_orders_by_prior_and_age(cold: ColdStart) -> None:
    now = NOW.timestamp()
    assert await cold.admit(np.arange(7, dtype=np.int64), now) == 4  # the new ones only
    first = await cold.top([], 10, now)
    assert await cold.admit(np.arange(7, dtype=np.int64), now) == 4  # replayed: no change
    again = await cold.top([], 10, now)
    assert first[0].tolist() == again[0].tolist() == [3, 5, 4, 6]  # Phones, then Decor young first
    np.testing.assert_allclose(first[1], again[1], rtol=1e-6)
    home = cold.catalog.roots.get("Home")
    assert (await cold.top([home], 10, now))[0].tolist() == [5, 4, 6]
    assert (await cold.top([home], 1, now))[0].tolist() == [5]


async def test_evidence_lifts_and_unclicked_impressions_sink(cold: ColdStart) -> None:
    now = NOW.timestamp()
    await cold.admit(np.arange(7, dtype=np.int64), now)
    click = Recorded("s", None, Interaction("i6", KIND_CLICK, now - 60))
    old_click = Recorded("s", None, Interaction("i0", KIND_CLICK, now - 60))  # not new: ignored
    bumps = cold.evidence([click, old_click])
    assert {b.scope for b in bumps} == {"new", "new:Home"} and {b.item_id for b in bumps} == {"i6"}
    for _ in range(20):
        await cold.store.bump(bumps)
    rows, _ = await cold.top([], 10, now)
    assert rows[0] == 6
    await cold.store.count([ItemCount("i6", 2000, 0)])  # shown 2,000 times, never clicked
    rows, _ = await cold.top([], 10, now)
    assert rows[-1] == 6


async def test_items_past_the_window_or_deleted_leave_the_store(cold: ColdStart) -> None:
    now = NOW.timestamp()
    await cold.admit(np.arange(7, dtype=np.int64), now)
    assert cold.catalog.delete("i5", 2)
    later = now + 3 * 86400.0 - 1.5 * HOUR  # rows 3, 4, 6 (2 h old at now) are past the window
    assert (await cold.top([], 10, later))[0].tolist() == []
    assert await cold.store.top("new", 10, later) == []  # dropped, not only filtered


async def test_an_unavailable_store_keeps_the_priors_for_the_next_admission() -> None:
    down = RedisStore("redis://127.0.0.1:1/0", timeout_s=0.2)
    cold = _world(down)
    now = NOW.timestamp()
    assert await cold.admit(np.array([3, 4], np.int64), now) == 0
    assert cold.waiting == 2
    with pytest.raises(StoreUnavailable):
        await cold.top([], 10, now)
    cold.store = EmbeddedStore()  # the store is back
    assert await cold.admit(np.array([5], np.int64), now) == 3
    assert cold.waiting == 0
    assert sorted((await cold.top([], 10, now))[0].tolist()) == [3, 4, 5]
    await down.close()
