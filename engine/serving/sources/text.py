"""Dense text candidates on search: the items whose MiniLM text vector is nearest the query's
(:mod:`towers.text_vectors`), the semantic half of hybrid retrieval on a catalog without
behaviour ("earphones" finds "in-ear headset"). Without text vectors it returns nothing."""

from __future__ import annotations

import asyncio

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.retrieval.text_similarity import TextSimilarity

SEARCH = frozenset({Surface.search})


class TextSource:
    name = "text"
    surfaces = SEARCH

    def __init__(self, dense: TextSimilarity | None) -> None:
        self.dense = dense

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        if self.dense is None or not ctx.query.strip():
            return SourceResult.empty(self.name)
        # off the event loop: a new query's MiniLM pass takes ~15 ms, which other requests'
        # sources should not wait for
        rows, scores = await asyncio.to_thread(self.dense.search, ctx.query, k)
        return SourceResult(self.name, rows, scores, model=("text", self.dense.version))
