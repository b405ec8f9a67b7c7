"""Exploration slots (feed): a bounded number of first-page positions go to new items that the
ranker would otherwise place below the page, the youngest first, so that they earn the
impressions the ranker needs to learn about them. Nothing else moves more than those few places
down."""

from __future__ import annotations

import numpy as np

from engine.catalog import Catalog
from engine.contracts import Surface
from engine.pipeline.candidates import CandidatePool
from engine.pipeline.context import RequestContext
from engine.pipeline.stages import Ranked


class ExplorationSlots:
    name = "exploration"

    def __init__(
        self, catalog: Catalog, positions: tuple[int, ...] = (4, 11), window_s: float = 3 * 86400.0
    ) -> None:
        self.catalog = catalog
        self.positions = tuple(sorted(positions))  # 0-based places on the first page
        self.window_s = window_s

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:
        if ctx.surface != Surface.feed or ctx.page != 0 or not self.positions:
            return ranked
        page = ctx.page_size
        rows = pool.rows[ranked.order]
        age = ctx.now - self.catalog.created_at.values[rows]
        new = (age >= 0) & (age < self.window_s)
        below = np.flatnonzero(new[page:]) + page  # new items the page would not show
        slots = [p for p in self.positions if p < min(page, len(rows))][: len(below)]
        if not slots or new[:page].sum() >= len(self.positions):
            return ranked  # no room, or the ranker already shows enough new items
        # the youngest first (the fewest chances to be seen so far), then the best-ranked
        chosen = below[np.lexsort((below, age[below]))[: len(slots)]]
        rest = np.delete(np.arange(len(rows)), chosen)
        idx = rest.tolist()
        notes = dict(ranked.notes)
        for pos, k in zip(slots, chosen.tolist(), strict=True):
            idx.insert(pos, k)
            notes.setdefault(int(ranked.order[k]), []).append(
                f"{self.name}: new item moved from position {k + 1} to {pos + 1}"
            )
        return Ranked(ranked.order[np.asarray(idx, np.int64)], ranked.scores, notes)
