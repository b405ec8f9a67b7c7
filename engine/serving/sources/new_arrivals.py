"""New arrivals (feed): the items created within the cold-start window, the way brand-new
items with no interactions enter the candidate pool at all. Behaviour-based sources
(popularity, co-visitation, graph) cannot propose an item nobody has touched yet.

With a context (session or history), the new items of its root categories; without one, the
new items of the whole catalog; ranked by the cold-start score of :mod:`engine.serving.cold_start`
(category prior, live evidence, smoothed live CTR) read from the online store. An unavailable
store fails the source (the response says so) and the other sources still serve.
"""

from __future__ import annotations

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.serving.cold_start import ColdStart

FEED = frozenset({Surface.feed})


class NewArrivalsSource:
    name = "new_arrivals"
    surfaces = FEED

    def __init__(self, cold_start: ColdStart, recent: int = 20) -> None:
        self.cold_start = cold_start
        self.recent = recent

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        context, _ = ctx.recent_rows(self.recent)
        roots = np.unique(self.cold_start.catalog.root_category.values[context])
        rows, scores = await self.cold_start.top(roots[roots >= 0].tolist(), k, ctx.now)
        return SourceResult(self.name, rows, scores)
