"""What one request carries through the pipeline: immutable, built once per request."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.core.contracts import Surface
from engine.core.rules.effects import RuleEffects, narrowed
from engine.core.search import SearchFilter
from engine.core.segment import Segment, segment_of

if TYPE_CHECKING:
    from engine.core.spelling import Speller

Rows = npt.NDArray[np.int64]


#: Event kinds as stored in history columns (same codes as the synthetic logs).
KIND_VIEW, KIND_CLICK, KIND_CART, KIND_PURCHASE = 0, 1, 2, 3
QUERY_LIMIT = 3  # a feed request's context: the session's last searches


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
    typed_query: str | None = None  # as typed, when spelling corrected ``query``
    rules: RuleEffects | None = None  # what merchandising rules do to this request

    def spelled(self, speller: Speller | None) -> RequestContext:
        """The request with its query's typos corrected (:mod:`engine.core.spelling`); itself
        without a speller or a correction."""
        corrected = speller.correct(self.query) if speller is not None and self.query else None
        if corrected is None:
            return self
        return dataclasses.replace(self, query=corrected, typed_query=self.query)

    def with_rules(self, effects: RuleEffects) -> RequestContext:
        """The request as retrieval sees it under ``effects``: the rewritten query, the
        synonyms, the narrowed filters."""
        query = effects.rewrite[0] if effects.rewrite is not None else self.query
        return dataclasses.replace(
            self,
            query=query,
            query_expansions=effects.synonyms,
            filters=narrowed(self.filters, effects.filters),
            rules=effects,
        )

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
