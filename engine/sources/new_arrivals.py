"""New arrivals (feed): items created shortly before the request, the way brand-new items
with no interactions enter the candidate pool at all. Behaviour-based sources (popularity,
co-visitation, graph) cannot propose an item nobody has touched yet.

With a context (session or history), the items of its root categories, newest first; without
one, the newest of the whole catalog. The score is the item's remaining freshness,
``1 - age / window``. The scan is a vectorised pass over the creation times, in a worker
thread: linear in the catalog.
"""

from __future__ import annotations

import asyncio

import numpy as np

from engine.catalog import Catalog
from engine.contracts import Surface
from engine.pipeline.candidates import SourceResult
from engine.pipeline.context import RequestContext

FEED = frozenset({Surface.feed})
DAY = 86_400.0


class NewArrivalsSource:
    name = "new_arrivals"
    surfaces = FEED

    def __init__(self, catalog: Catalog, window_s: float = 3 * DAY, recent: int = 20) -> None:
        self.catalog = catalog
        self.window_s = window_s
        self.recent = recent

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        return await asyncio.to_thread(self._newest, ctx, k)  # a scan: off the event loop

    def _newest(self, ctx: RequestContext, k: int) -> SourceResult:
        cat = self.catalog
        n = len(cat)
        age = ctx.now - cat.created_at.values[:n]
        ok = (age >= 0) & (age < self.window_s) & ~cat.deleted.values[:n]
        context, _ = ctx.recent_rows(self.recent)
        if len(context):
            roots = np.unique(cat.root_category.values[context])
            ok &= np.isin(cat.root_category.values[:n], roots)
        rows = np.flatnonzero(ok)
        if len(rows) > k:
            rows = rows[np.argpartition(age[rows], k - 1)[:k]]
        rows = rows[np.argsort(age[rows], kind="stable")]
        scores = (1.0 - age[rows] / self.window_s).astype(np.float32)
        return SourceResult(self.name, rows.astype(np.int64), scores)
