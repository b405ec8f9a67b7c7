"""Popularity candidates: global, trending, and popular in the categories of the context.

``popular_in_context`` is the session-based source for anonymous and weak-history users: it
needs no user id, only what the session touched.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.signals import Signals

FEED = frozenset({Surface.feed})


class PopularSource:
    """Global popular or trending items (``kind``), skipping what the user already saw."""

    surfaces = FEED

    def __init__(self, signals: Signals, kind: Literal["popular", "trending"]) -> None:
        self.signals = signals
        self.kind: Literal["popular", "trending"] = kind
        self.name: str = kind

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        pop = self.signals.popularity
        rows, scores = pop.top(k + len(ctx.user_history) + len(ctx.session), kind=self.kind)
        seen = np.concatenate([ctx.user_history.rows, ctx.session.rows])
        keep = ~np.isin(rows, seen)
        return SourceResult(self.name, rows[keep][:k], scores[keep][:k])


class ContextCategorySource:
    """Popular items of the leaf categories the session and history touched, weighted by
    how recently and how often each category appeared."""

    name = "popular_in_context"
    surfaces = FEED

    def __init__(
        self, signals: Signals, catalog: Catalog, recent: int = 20, max_categories: int = 5
    ) -> None:
        self.signals, self.catalog = signals, catalog
        self.recent, self.max_categories = recent, max_categories

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        rows, weights = ctx.recent_rows(self.recent)
        if len(rows) == 0:
            return SourceResult.empty(self.name)
        cats = self.catalog.category.values[rows]
        weight = np.bincount(cats, weights=weights)
        top = np.argsort(-weight)[: self.max_categories]
        top = top[weight[top] > 0]
        share = weight[top] / weight[top].sum()
        out_rows, out_scores = [], []
        for c, s in zip(top.tolist(), share.tolist(), strict=True):
            r, sc = self.signals.popularity.top_in_category(c, max(1, int(np.ceil(k * s))) + 10)
            out_rows.append(r)
            out_scores.append(sc * s)
        cand = np.concatenate(out_rows)
        scores = np.concatenate(out_scores).astype(np.float32)
        keep = ~np.isin(cand, rows)
        cand, scores = cand[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")[:k]
        return SourceResult(self.name, cand[order], scores[order])
