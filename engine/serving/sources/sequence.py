"""Next-item candidates: the sequential co-visitation table queried with the last few items
acted on, the most recent weighing most."""

from __future__ import annotations

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.retrieval.covisitation import CovisitationIndex


class SequenceSource:
    name = "sequence"
    surfaces = frozenset({Surface.feed})

    def __init__(self, index: CovisitationIndex | None, last: int = 3, decay: float = 0.5) -> None:
        self.index = index
        self.last = last
        self.decay = decay  # the weight of each item is ``decay`` times the one after it

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        if self.index is None:
            return SourceResult.empty(self.name)
        rows, _ = ctx.recent_rows(self.last)
        weights = (self.decay ** np.arange(len(rows))).astype(np.float32)
        known = rows < self.index.n_items
        if not known.any():
            return SourceResult.empty(self.name)
        cand, scores = self.index.neighbors(rows[known], weights[known], k, exclude=rows)
        return SourceResult(self.name, cand, scores)
