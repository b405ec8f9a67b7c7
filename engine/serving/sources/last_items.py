"""Candidates from an item-to-item table queried with the last few items acted on, the most
recent weighing most: next items (the sequential co-visitation table, source ``sequence``),
look-alikes (the title and attribute table, source ``content``) and what is bought with them
(the basket co-occurrence table, source ``basket``)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, I64
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext


class ItemNeighbors(Protocol):
    """An item-to-item table (:class:`~engine.core.retrieval.covisitation.CovisitationIndex`,
    :class:`~engine.core.retrieval.content.ContentSimilarity`)."""

    @property
    def n_items(self) -> int: ...

    def neighbors(
        self,
        item_rows: npt.ArrayLike,
        item_weights: npt.ArrayLike,
        k: int,
        exclude: npt.ArrayLike | None = None,
    ) -> tuple[I64, F32]: ...


class LastItemsSource:
    surfaces = frozenset({Surface.feed})

    def __init__(
        self, name: str, table: ItemNeighbors | None, last: int = 3, decay: float = 0.5
    ) -> None:
        self.name = name
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
