"""Two-tower candidates (feed and search): the query tower runs in-process, the item vectors
live in the search index, tagged with the model version that produced them.

The source reads :attr:`TwoTowerSource.serving` once per request and asks the index for
vectors of that version only, so a request never scores a query vector of one model against
item vectors of another, even while a new model is being rolled out (see
:mod:`towers.serving`). Without a model the source is off: it serves no surface.
"""

from __future__ import annotations

import asyncio
import dataclasses
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.retrieval.exact import top_k
from engine.core.search import SearchIndex
from engine.serving.models import ModelHolder

if TYPE_CHECKING:  # torch is imported only when a model is served
    from towers.serving import TowerServing

BOTH = frozenset({Surface.feed, Surface.search})
MIN_SHARE = 0.5  # an unfiltered search finding fewer of its k vectors is flagged


def _unrestricted(ctx: RequestContext) -> bool:
    """No filter that may leave fewer than k items (in stock only, or seen items, do not)."""
    flt = ctx.filters
    if flt is None:
        return True
    return dataclasses.replace(flt, in_stock=None, exclude_ids=frozenset()).is_empty()


class TwoTowerSource:
    name = "two_tower"

    def __init__(
        self,
        index: SearchIndex,
        catalog: Catalog,
        model: ModelHolder[TowerServing],
        in_memory: bool = False,
    ) -> None:
        """``in_memory``: search the model's own vectors exactly instead of the index (for a
        model whose vectors are not indexed, e.g. the ranker-window model in training; request
        filters then act in the pipeline's filter stage only)."""
        self.index = index
        self.catalog = catalog
        self.model = model
        self.in_memory = in_memory
        self._exact = _ExactVectors()

    @property
    def surfaces(self) -> frozenset[Surface]:
        return BOTH if self.model.current is not None else frozenset()

    @property
    def version(self) -> str:
        serving = self.model.current
        return serving.version if serving is not None else ""

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        serving = self.model.current  # one model version for the whole request
        if serving is None:
            return SourceResult.empty(self.name)
        # torch (the towers) is imported only where two-tower retrieval is in use
        from towers.requests import query_inputs

        # In a worker thread: embedding a new query text takes ~20 ms of CPU (torch releases
        # the GIL), and the other sources of the request run meanwhile.
        q = await asyncio.to_thread(serving.query_vector, query_inputs(ctx, serving.cfg))
        model = ("towers", serving.version)
        if self.in_memory:
            n = len(self.catalog)
            rows, scores = await asyncio.to_thread(self._exact.top, serving, q, k, n)
            return SourceResult(self.name, rows, scores, model=model, query=q)
        hits = await self.index.vector(q, k, ctx.filters, model=serving.version)
        rows = np.fromiter(map(self.catalog.row_of.get, hits.ids, repeat(-1)), np.int64, len(hits))
        known = rows >= 0
        note = hits.missing
        if not note and len(hits) < MIN_SHARE * min(k, len(self.catalog)) and _unrestricted(ctx):
            # The index holds few vectors of the served model: a re-embedding promoted under
            # it, or never finished. Versions are not mixed: the request goes on with what
            # this model finds and the other sources, and says so.
            note = f"{len(hits)} of {k} vectors of model {serving.version} in the index"
        scores = hits.scores[known].astype(np.float32)
        return SourceResult(self.name, rows[known], scores, note, model, q)


class _ExactVectors:
    """The model's item vectors as one matrix, rebuilt when the model or catalog size changes."""

    def __init__(self) -> None:
        self._key: tuple[int, int] = (-1, -1)
        self._rows = np.zeros(0, np.int64)
        self._vecs = np.zeros((0, 0), np.float32)

    def top(
        self, serving: TowerServing, q: np.ndarray, k: int, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        key = (id(serving), n)
        if key != self._key:
            self._rows = serving.rows_with_vectors(n)
            self._vecs = serving.vectors_of(self._rows)
            self._key = key
        scores = self._vecs @ q
        at, best = top_k(scores, k)
        return self._rows[at], best
