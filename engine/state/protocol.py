"""Online feature store protocol: session state and recent user history.

Backends: :mod:`engine.state.embedded` (default, in-process) and :mod:`engine.state.redis_store`.
Both run the conformance suite in ``tests/engine/state/conformance.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Interaction:
    item_id: str
    kind: int  # engine.pipeline.context KIND_* codes
    ts: float


@dataclass(frozen=True, slots=True)
class Recorded:
    """One interaction to record against a session and, when known, a user."""

    session_id: str
    user_id: str | None
    interaction: Interaction


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

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class StoreUnavailable(RuntimeError):
    """The store cannot be reached; callers fall back to empty state and flag the response."""
