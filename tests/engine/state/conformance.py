"""One behaviour suite for every OnlineStore backend."""

from __future__ import annotations

from engine.state.protocol import Interaction, OnlineStore, Recorded


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

    async def test_ping(self, store: OnlineStore) -> None:
        assert await store.ping() is True
