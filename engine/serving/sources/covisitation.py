"""Item-to-item co-visitation candidates from the session and recent history."""

from __future__ import annotations

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.retrieval.covisitation import CovisitationIndex


class CoVisitationSource:
    name = "covis"
    surfaces = frozenset({Surface.feed, Surface.search})

    def __init__(self, index: CovisitationIndex | None, recent: int = 10) -> None:
        self.index = index
        self.recent = recent

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        if self.index is None:
            return SourceResult.empty(self.name)
        rows, weights = ctx.recent_rows(self.recent)
        known = rows < self.index.n_items
        if not known.any():
            return SourceResult.empty(self.name)
        cand, scores = self.index.neighbors(rows[known], weights[known], k, exclude=rows)
        return SourceResult(self.name, cand, scores)
