"""Look-alike candidates: the items most similar in title and attributes to the last few
acted on (the catalog's content table), the most recent weighing most."""

from __future__ import annotations

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.retrieval.content import ContentSimilarity


class ContentSource:
    name = "content"
    surfaces = frozenset({Surface.feed})

    def __init__(self, table: ContentSimilarity | None, last: int = 3, decay: float = 0.5) -> None:
        self.table = table
        self.last = last
        self.decay = decay  # the weight of each item is ``decay`` times the one after it

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        if self.table is None:
            return SourceResult.empty(self.name)
        rows, _ = ctx.recent_rows(self.last)
        weights = (self.decay ** np.arange(len(rows))).astype(np.float32)
        known = rows < self.table.n_items
        if not known.any():
            return SourceResult.empty(self.name)
        cand, scores = self.table.neighbors(rows[known], weights[known], k, exclude=rows)
        return SourceResult(self.name, cand, scores)
