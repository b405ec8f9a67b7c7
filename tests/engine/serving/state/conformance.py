"""One behaviour suite for every OnlineStore backend."""

from __future__ import annotations

import pytest

from engine.core.online_store import (
    HALF_LIFE_S,
    REBASE_EXPONENT,
    Bump,
    Interaction,
    ItemCount,
    OnlineStore,
    Recorded,
    SessionQuery,
    smoothed_ctr,
)


def _ev(session: str, user: str | None, item: str, kind: int = 1, ts: float = 0.0) -> Recorded:
    return Recorded(session, user, Interaction(item, kind, ts))


class StoreConformance:
    """Subclasses provide a ``store`` fixture yielding an empty store with max_len=5."""

    async def test_unknown_keys_are_empty(self, store: OnlineStore) -> None:
        assert await store.session("nope", 10) == []
        assert await store.user("nope", 10) == []

    async def test_session_order_oldest_first(self, store: OnlineStore) -> None:
        await store.record([_ev("s1", None, f"i{k}", ts=float(k)) for k in range(3)])
        got = await store.session("s1", 10)
        assert [g.item_id for g in got] == ["i0", "i1", "i2"]
        assert [g.ts for g in got] == [0.0, 1.0, 2.0]

    async def test_limit_takes_most_recent(self, store: OnlineStore) -> None:
        await store.record([_ev("s1", "u1", f"i{k}", ts=float(k)) for k in range(4)])
        assert [g.item_id for g in await store.session("s1", 2)] == ["i2", "i3"]
        assert [g.item_id for g in await store.user("u1", 1)] == ["i3"]
        assert await store.session("s1", 0) == []

    async def test_capped_at_max_len(self, store: OnlineStore) -> None:
        await store.record([_ev("s1", None, f"i{k}", ts=float(k)) for k in range(8)])
        got = await store.session("s1", 100)
        assert [g.item_id for g in got] == ["i3", "i4", "i5", "i6", "i7"]

    async def test_user_and_session_are_separate(self, store: OnlineStore) -> None:
        await store.record(
            [_ev("s1", "u1", "a", kind=3), _ev("s2", "u1", "b"), _ev("s2", None, "c")]
        )
        assert [g.item_id for g in await store.session("s1", 10)] == ["a"]
        assert [g.item_id for g in await store.session("s2", 10)] == ["b", "c"]
        user = await store.user("u1", 10)
        assert [(g.item_id, g.kind) for g in user] == [("a", 3), ("b", 1)]

    async def test_item_counters_add_up_in_one_fetch(self, store: OnlineStore) -> None:
        await store.count([ItemCount("a", 3, 1), ItemCount("b", 1, 0)])
        await store.count([ItemCount("a", 2, 2), ItemCount("c", 0, 1)])
        assert await store.counts(["a", "b", "c", "never"]) == ([5, 1, 0, 0], [3, 0, 1, 0])
        assert await store.counts([]) == ([], [])
        ids = [f"x{i}" for i in range(3000)]  # a whole candidate set
        await store.count([ItemCount(i, 2, 1) for i in ids])
        imp, clk = await store.counts(ids)
        assert imp == [2] * 3000 and clk == [1] * 3000
        assert smoothed_ctr(0, 0) == 0.05 and smoothed_ctr(30, 100) > smoothed_ctr(3, 10)

    async def test_ping(self, store: OnlineStore) -> None:
        assert await store.ping() is True

    async def test_popularity_counts_and_ranks(self, store: OnlineStore) -> None:
        t = 1.8e9
        await store.bump([Bump("global", "a", 1.0, t), Bump("global", "b", 3.0, t)])
        await store.bump([Bump("global", "a", 1.0, t), Bump("cat:x", "c", 1.0, t)])
        top = await store.top("global", 10, now=t)
        assert [i for i, _ in top] == ["b", "a"]
        assert [s for _, s in top] == pytest.approx([3.0, 2.0])
        assert await store.top("global", 1, now=t) == [("b", pytest.approx(3.0))]
        assert [i for i, _ in await store.top("cat:x", 10, now=t)] == ["c"]
        assert await store.top("cat:none", 10, now=t) == []

    async def test_popularity_decays_with_time(self, store: OnlineStore) -> None:
        t = 1.8e9
        await store.bump([Bump("g", "old", 4.0, t), Bump("g", "new", 1.0, t + 2 * HALF_LIFE_S)])
        top = await store.top("g", 10, now=t + 2 * HALF_LIFE_S)
        assert top == [("old", pytest.approx(1.0)), ("new", pytest.approx(1.0))] or top == [
            ("new", pytest.approx(1.0)),
            ("old", pytest.approx(1.0)),
        ]
        later = dict(await store.top("g", 10, now=t + 3 * HALF_LIFE_S))
        assert later == {"old": pytest.approx(0.5), "new": pytest.approx(0.5)}

    async def test_popularity_survives_a_rebase(self, store: OnlineStore) -> None:
        t = 1.8e9
        far = t + (REBASE_EXPONENT + 10) * HALF_LIFE_S  # past the rebase point
        await store.bump([Bump("g", "a", 1.0, t)])
        await store.bump([Bump("g", "b", 2.0, far), Bump("g", "a", 1.0, far)])
        got = dict(await store.top("g", 10, now=far + HALF_LIFE_S))
        assert got == {"b": pytest.approx(1.0), "a": pytest.approx(0.5)}

    async def test_only_new_seeds_once(self, store: OnlineStore) -> None:
        t = 1.8e9
        seed = [Bump("n", "a", 2.0, t), Bump("n", "b", 1.0, t)]
        await store.bump(seed, only_new=True)
        await store.bump(seed, only_new=True)  # a replay or a restart: no second prior
        await store.bump([Bump("n", "b", 3.0, t)])  # evidence adds up as usual
        await store.bump([Bump("n", "b", 5.0, t)], only_new=True)
        assert dict(await store.top("n", 10, now=t)) == {
            "a": pytest.approx(2.0),
            "b": pytest.approx(4.0),
        }

    async def test_trim_keeps_the_best_and_remove_drops(self, store: OnlineStore) -> None:
        t = 1.8e9
        await store.bump([Bump("n", f"i{k}", float(k), t) for k in range(1, 11)])
        await store.trim("n", 3)
        assert [i for i, _ in await store.top("n", 10, now=t)] == ["i10", "i9", "i8"]
        await store.remove("n", ["i9", "unknown"])
        await store.remove("none", ["i9"])
        assert [i for i, _ in await store.top("n", 10, now=t)] == ["i10", "i8"]
        await store.trim("n", 0)
        assert await store.top("n", 10, now=t) == []

    async def test_session_queries_keep_the_most_recent(self, store: OnlineStore) -> None:
        assert await store.queries("none", 5) == []
        await store.record_queries([SessionQuery("s1", f"q{i}", float(i)) for i in range(250)])
        await store.record_queries([SessionQuery("s2", "other", 9.0)])
        got = await store.queries("s1", 3)
        assert got == [("q247", 247.0), ("q248", 248.0), ("q249", 249.0)]
        assert 3 <= len(await store.queries("s1", 1000)) < 250  # capped like the item lists
        assert await store.queries("s1", 0) == []
        assert await store.queries("s2", 5) == [("other", 9.0)]
