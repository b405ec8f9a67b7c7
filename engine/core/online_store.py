"""Online feature store protocol: session state, recent user history, popularity counters.

Popularity counters are exponentially time-decayed sums of event weights per *scope* (e.g.
``"global"`` or ``"cat:Electronics"``), kept with the forward-decay trick: an event of weight
``w`` at time ``t`` adds ``w * 2 ** ((t - landmark) / half_life)``, so stored scores never need
rewriting as time passes; reading at ``now`` multiplies by ``2 ** ((landmark - now) / half_life)``.
When the multiplier grows too large the scope is rebased onto a later landmark.

Backends: :mod:`engine.serving.state.embedded` (default, in-process) and
:mod:`engine.serving.state.redis_store`.
Both run the conformance suite in ``tests/engine/serving/state/conformance.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Interaction:
    item_id: str
    kind: int  # engine.core.pipeline.context KIND_* codes
    ts: float


@dataclass(frozen=True, slots=True)
class Recorded:
    """One interaction to record against a session and, when known, a user."""

    session_id: str
    user_id: str | None
    interaction: Interaction


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """A search a session made."""

    session_id: str
    query: str
    ts: float


@dataclass(frozen=True, slots=True)
class Bump:
    """Add ``weight`` to ``item_id``'s popularity in ``scope`` at time ``ts``."""

    scope: str
    item_id: str
    weight: float
    ts: float


@dataclass(frozen=True, slots=True)
class ItemCount:
    """Add ``impressions`` and ``clicks`` to an item's running counters."""

    item_id: str
    impressions: int
    clicks: int


def smoothed_ctr(
    clicks: float, impressions: float, prior_ctr: float = 0.05, prior_weight: float = 20.0
) -> float:
    """Click-through rate with a Beta prior: an item with few impressions stays near the prior
    (the same prior as the offline signals, engine/core/signals.py)."""
    return (clicks + prior_ctr * prior_weight) / (impressions + prior_weight)


HALF_LIFE_S = 6 * 3600.0  # popularity counters halve every 6 hours
REBASE_EXPONENT = 256.0  # rebase a scope once increments reach 2**256


class OnlineStore(Protocol):
    name: str

    async def record(self, events: Sequence[Recorded]) -> None:
        """Append interactions; each key keeps its most recent ``max_len`` entries."""
        ...

    async def session(self, session_id: str, limit: int) -> list[Interaction]:
        """Most recent interactions of a session, oldest first."""
        ...

    async def user(self, user_id: str, limit: int) -> list[Interaction]:
        """Most recent interactions of a user, oldest first."""
        ...

    async def record_queries(self, queries: Sequence[SessionQuery]) -> None:
        """Append searches to their sessions (the most recent ``max_len`` kept)."""
        ...

    async def queries(self, session_id: str, limit: int) -> list[tuple[str, float]]:
        """A session's most recent ``(query, ts)``, oldest first."""
        ...

    async def bump(self, bumps: Sequence[Bump], *, only_new: bool = False) -> None:
        """Add decayed weights to popularity counters. ``only_new``: leave an item that the
        scope already holds as it is (a prior seeded once, whatever replays or restarts)."""
        ...

    async def trim(self, scope: str, keep: int) -> None:
        """Keep the ``keep`` highest-scored items of ``scope``, drop the rest."""
        ...

    async def remove(self, scope: str, item_ids: Sequence[str]) -> None:
        """Drop ``item_ids`` from ``scope``."""
        ...

    async def top(self, scope: str, k: int, now: float) -> list[tuple[str, float]]:
        """The ``k`` most popular items of ``scope`` with their decayed score at ``now``."""
        ...

    async def count(self, counts: Sequence[ItemCount]) -> None:
        """Add impressions and clicks to per-item counters."""
        ...

    async def counts(self, item_ids: Sequence[str]) -> tuple[list[int], list[int]]:
        """``(impressions, clicks)`` of each id, in order (0 for unknown ids): one round trip
        for a whole candidate set."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class StoreUnavailable(RuntimeError):
    """The store cannot be reached; callers fall back to empty state and flag the response."""
