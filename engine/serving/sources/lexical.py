"""BM25 candidates from the search index: the query on search; on the feed, the session's
latest search (a shopper who searched for running shoes, then opened the home feed).

Hits come back from :class:`SearchIndex` as id strings, and each id is looked up in the
catalog's ``id -> row`` dict. At 3,000 hits over 1M items those lookups (scattered strings in
a 1M-entry dict) cost ~4 ms a request, more than the BM25 search. A backend that can also
answer with its internal rows (:class:`RowKeyedLexical`, the embedded index) is asked for
rows instead, and the catalog row of each (internal row, reuse stamp) is cached in a numpy
array: only rows never seen before go through the id strings.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Protocol, runtime_checkable

import numpy as np

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.search import SearchFilter, SearchIndex


class RowHitsLike(Protocol):
    @property
    def rows(self) -> I64: ...
    @property
    def stamps(self) -> I64: ...
    @property
    def scores(self) -> F32: ...


@runtime_checkable
class RowKeyedLexical(Protocol):
    """Optional backend capability: lexical hits as internal rows plus a row -> id lookup."""

    async def lexical_rows(
        self, query: str, k: int, flt: SearchFilter | None = None
    ) -> RowHitsLike: ...

    def ids_of(self, rows: I64) -> list[str]: ...


class RowMap:
    """Catalog row of each backend (row, stamp), learnt on first sight; -1 when unknown."""

    def __init__(self) -> None:
        self.catalog_row = np.zeros(0, dtype=np.int64)
        self.stamp = np.zeros(0, dtype=np.int64)

    def lookup(
        self,
        rows: I64,
        stamps: I64,
        ids_of: Callable[[I64], list[str]],
        row_of: dict[str, int],
    ) -> I64:
        if len(rows) == 0:
            return np.zeros(0, np.int64)
        need = int(rows.max()) + 1
        if need > len(self.catalog_row):
            cap = max(need, 2 * len(self.catalog_row), 1024)
            cat = np.full(cap, -1, dtype=np.int64)
            cat[: len(self.catalog_row)] = self.catalog_row
            stamp = np.full(cap, -1, dtype=np.int64)
            stamp[: len(self.stamp)] = self.stamp
            self.catalog_row, self.stamp = cat, stamp
        out = self.catalog_row[rows]
        miss = (self.stamp[rows] != stamps) | (out < 0)
        if miss.any():
            new_rows = rows[miss]
            found = np.fromiter(
                map(row_of.get, ids_of(new_rows), repeat(-1)), np.int64, count=len(new_rows)
            )
            out[miss] = found
            known = found >= 0  # unknown ids are asked again: the catalog may learn them
            self.catalog_row[new_rows[known]] = found[known]
            self.stamp[new_rows[known]] = stamps[miss][known]
        return out


class LexicalSource:
    name = "bm25"
    surfaces = frozenset({Surface.search, Surface.feed})

    def __init__(self, index: SearchIndex, catalog: Catalog, feed_k: int = 300) -> None:
        self.index = index
        self.catalog = catalog
        self.feed_k = feed_k  # the feed's page mixes many sources: fewer from a past search
        self.row_map = RowMap()

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        query = " ".join((ctx.query, *ctx.query_expansions))  # rule synonyms: more terms
        if ctx.surface != Surface.search:
            query, k = _latest(ctx.session_queries), min(k, self.feed_k)
        if not query:
            return SourceResult.empty(self.name)
        index, note = self.index, ""
        if isinstance(index, RowKeyedLexical):
            got = await index.lexical_rows(query, k, ctx.filters)
            rows = self.row_map.lookup(got.rows, got.stamps, index.ids_of, self.catalog.row_of)
            scores = got.scores
        else:
            hits = await index.lexical(query, k, ctx.filters)
            lookup = map(self.catalog.row_of.get, hits.ids, repeat(-1))  # C loop, no genexpr
            rows = np.fromiter(lookup, np.int64, count=len(hits))
            scores, note = hits.scores, hits.missing
        known = rows >= 0
        return SourceResult(self.name, rows[known], scores[known].astype(np.float32), note)


def _latest(queries: tuple[str, ...]) -> str:
    return queries[-1] if queries else ""
