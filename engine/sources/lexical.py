"""BM25 candidates from the search index (search surface)."""

from __future__ import annotations

import numpy as np

from engine.catalog import Catalog
from engine.contracts import Surface
from engine.pipeline.candidates import SourceResult
from engine.pipeline.context import RequestContext
from search_plugins.protocol import SearchIndex


class LexicalSource:
    name = "bm25"
    surfaces = frozenset({Surface.search})

    def __init__(self, index: SearchIndex, catalog: Catalog) -> None:
        self.index = index
        self.catalog = catalog

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        if not ctx.query:
            return SourceResult.empty(self.name)
        hits = await self.index.lexical(ctx.query, k, ctx.filters)
        row_of = self.catalog.row_of
        rows = np.fromiter((row_of.get(i, -1) for i in hits.ids), np.int64, count=len(hits))
        known = rows >= 0
        return SourceResult(self.name, rows[known], hits.scores[known].astype(np.float32))
