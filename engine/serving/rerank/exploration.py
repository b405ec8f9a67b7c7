"""Exploration slots: a bounded number of first-page positions go to new items that the ranker
would otherwise place below the page, so that they earn the impressions the ranker needs to
learn about them. Nothing else moves more than those few places down.

Feed: the youngest new items first (the fewest chances to be seen so far). Search: only new
items that carry every word of the query in their title or brand (stemmed, as the index reads
them), the best-ranked first: a shopper who types a new item's name finds it on the first page,
however little behaviour it has.
"""

from __future__ import annotations

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import Ranked


class ExplorationSlots:
    name = "exploration"

    def __init__(
        self,
        catalog: Catalog,
        positions: tuple[int, ...] = (4, 11),
        window_s: float = 3 * 86400.0,
        search_positions: tuple[int, ...] = (),
    ) -> None:
        self.catalog = catalog
        self.positions = tuple(sorted(positions))  # 0-based places on the first feed page
        self.search_positions = tuple(sorted(search_positions))  # and on the first search page
        self.window_s = window_s

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:
        search = ctx.surface == Surface.search
        positions = self.search_positions if search else self.positions
        if ctx.page != 0 or not positions:
            return ranked
        page = ctx.page_size
        rows = pool.rows[ranked.order]
        age = ctx.now - self.catalog.created_at.values[rows]
        new = (age >= 0) & (age < self.window_s)
        if search:  # new and carrying every query word
            found, n_query = self.catalog.query_words_found(rows[new], ctx.query)
            new[new] = (found >= n_query) & (n_query > 0)
        below = np.flatnonzero(new[page:]) + page  # new items the page would not show
        slots = [p for p in positions if p < min(page, len(rows))][: len(below)]
        if not slots or new[:page].sum() >= len(positions):
            return ranked  # no room, or the ranker already shows enough new items
        # feed: the youngest first, then the best-ranked; search: the best-ranked
        order = below if search else below[np.lexsort((below, age[below]))]
        chosen = order[: len(slots)]
        rest = np.delete(np.arange(len(rows)), chosen)
        idx = rest.tolist()
        notes = dict(ranked.notes)
        for pos, k in zip(slots, chosen.tolist(), strict=True):
            idx.insert(pos, k)
            notes.setdefault(int(ranked.order[k]), []).append(
                f"{self.name}: new item moved from position {k + 1} to {pos + 1}"
            )
        return Ranked(ranked.order[np.asarray(idx, np.int64)], ranked.scores, notes)
