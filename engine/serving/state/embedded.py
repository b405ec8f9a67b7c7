"""In-process online store: bounded deques per key. The default; no server needed."""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Sequence

from engine.core.online_store import (
    HALF_LIFE_S,
    REBASE_EXPONENT,
    Bump,
    Interaction,
    ItemCount,
    Recorded,
    SessionQuery,
)


class EmbeddedStore:
    name = "embedded"

    def __init__(self, max_len: int = 200) -> None:
        self._max_len = max_len
        self._sessions: defaultdict[str, deque[Interaction]] = defaultdict(self._new)
        self._users: defaultdict[str, deque[Interaction]] = defaultdict(self._new)
        self._queries: defaultdict[str, deque[tuple[str, float]]] = defaultdict(
            lambda: deque(maxlen=self._max_len)
        )
        self._pop: defaultdict[str, dict[str, float]] = defaultdict(dict)
        self._landmark: dict[str, float] = {}
        self._impressions: defaultdict[str, int] = defaultdict(int)
        self._clicks: defaultdict[str, int] = defaultdict(int)

    def _new(self) -> deque[Interaction]:
        return deque(maxlen=self._max_len)

    async def record(self, events: Sequence[Recorded]) -> None:
        for e in events:
            self._sessions[e.session_id].append(e.interaction)
            if e.user_id is not None:
                self._users[e.user_id].append(e.interaction)

    async def session(self, session_id: str, limit: int) -> list[Interaction]:
        return _tail(self._sessions.get(session_id), limit)

    async def user(self, user_id: str, limit: int) -> list[Interaction]:
        return _tail(self._users.get(user_id), limit)

    async def record_queries(self, queries: Sequence[SessionQuery]) -> None:
        for q in queries:
            self._queries[q.session_id].append((q.query, q.ts))

    async def queries(self, session_id: str, limit: int) -> list[tuple[str, float]]:
        got = self._queries.get(session_id)
        return list(got)[-limit:] if got and limit > 0 else []

    async def bump(self, bumps: Sequence[Bump], *, only_new: bool = False) -> None:
        for b in bumps:
            if only_new and b.item_id in self._pop.get(b.scope, ()):
                continue
            landmark = self._landmark.setdefault(b.scope, b.ts)
            exponent = (b.ts - landmark) / HALF_LIFE_S
            counters = self._pop[b.scope]
            if exponent > REBASE_EXPONENT:
                factor = 2.0**-exponent
                for item in counters:
                    counters[item] *= factor
                self._landmark[b.scope] = landmark = b.ts
                exponent = 0.0
            counters[b.item_id] = counters.get(b.item_id, 0.0) + b.weight * 2.0**exponent

    async def top(self, scope: str, k: int, now: float) -> list[tuple[str, float]]:
        counters = self._pop.get(scope)
        if not counters or k <= 0:
            return []
        scale = 2.0 ** ((self._landmark[scope] - now) / HALF_LIFE_S)
        best = heapq.nlargest(k, counters.items(), key=lambda kv: (kv[1], kv[0]))
        return [(item, score * scale) for item, score in best]

    async def trim(self, scope: str, keep: int) -> None:
        counters = self._pop.get(scope)
        if counters is None or len(counters) <= keep:
            return
        best = heapq.nlargest(max(0, keep), counters.items(), key=lambda kv: (kv[1], kv[0]))
        self._pop[scope] = dict(best)

    async def remove(self, scope: str, item_ids: Sequence[str]) -> None:
        counters = self._pop.get(scope, {})
        for item in item_ids:
            counters.pop(item, None)

    async def count(self, counts: Sequence[ItemCount]) -> None:
        for c in counts:
            self._impressions[c.item_id] += c.impressions
            self._clicks[c.item_id] += c.clicks

    async def counts(self, item_ids: Sequence[str]) -> tuple[list[int], list[int]]:
        imp, clk = self._impressions, self._clicks
        return [imp.get(i, 0) for i in item_ids], [clk.get(i, 0) for i in item_ids]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def _tail(q: deque[Interaction] | None, limit: int) -> list[Interaction]:
    if not q or limit <= 0:
        return []
    return list(q)[-limit:]
