"""What one request carries through the pipeline: immutable, built once per request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.contracts import Surface
from search_plugins.protocol import SearchFilter

if TYPE_CHECKING:
    from engine.rules.effects import RuleEffects

Rows = npt.NDArray[np.int64]


class Segment(IntEnum):
    anonymous = 0
    weak = 1
    heavy = 2


#: Event kinds as stored in history columns (same codes as the synthetic logs).
KIND_VIEW, KIND_CLICK, KIND_CART, KIND_PURCHASE = 0, 1, 2, 3
WEAK_HISTORY_MAX = 3


def segment_of(history_len: int, has_user: bool) -> Segment:
    if not has_user:
        return Segment.anonymous
    return Segment.weak if history_len <= WEAK_HISTORY_MAX else Segment.heavy


@dataclass(frozen=True, slots=True)
class History:
    """Recent interactions, oldest first, as columns."""

    rows: Rows
    kinds: npt.NDArray[np.int8]
    ts: npt.NDArray[np.float64]

    @staticmethod
    def empty() -> History:
        return History(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.float64))

    def __len__(self) -> int:
        return len(self.rows)

    def purchased(self) -> Rows:
        return np.unique(self.rows[self.kinds == KIND_PURCHASE])


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    surface: Surface
    now: float
    query: str = ""
    user_id: str | None = None
    session_id: str | None = None
    user_history: History = field(default_factory=History.empty)
    session: History = field(default_factory=History.empty)
    session_queries: tuple[str, ...] = ()  # the session's recent searches, oldest first
    filters: SearchFilter = field(default_factory=SearchFilter)
    page: int = 0
    page_size: int = 20
    explain: bool = False
    query_expansions: tuple[str, ...] = ()  # rule synonyms, added to the text search only
    rules: RuleEffects | None = None  # what merchandising rules do to this request

    @property
    def segment(self) -> Segment:
        return segment_of(len(self.user_history), self.user_id is not None)

    def recent_rows(self, limit: int = 10) -> tuple[Rows, npt.NDArray[np.float32]]:
        """Session then user items, most recent first, with recency weights 1, 1/2, 1/3..."""
        rows = np.concatenate([self.session.rows[::-1], self.user_history.rows[::-1]])
        if len(rows) == 0:
            return rows, np.zeros(0, np.float32)
        _, first = np.unique(rows, return_index=True)
        keep = np.sort(first)[:limit]
        weights = (1.0 / (1.0 + np.arange(len(keep)))).astype(np.float32)
        return rows[keep], weights
