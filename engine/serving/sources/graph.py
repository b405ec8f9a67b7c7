"""Graph candidates (feed): LightGCN user-to-items, and items bought together with what the
user recently bought, carted or clicked.

Both read one :class:`~graph.serving.GraphServing` per request; without a graph model they are
off (they serve no surface). The dot products over every item vector run in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.serving.models import ModelHolder

if TYPE_CHECKING:  # numpy-only at serving, but the graph package imports torch for training
    from graph.serving import GraphServing

FEED = frozenset({Surface.feed})


class GraphBacked:
    """A feed source that reads the served graph model (once per request); off without one."""

    name = ""

    def __init__(self, model: ModelHolder[GraphServing]) -> None:
        self.model = model

    @property
    def surfaces(self) -> frozenset[Surface]:
        return FEED if self.model.current is not None else frozenset()


class GraphSource(GraphBacked):
    name = "graph"

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        serving = self.model.current
        if serving is None:
            return SourceResult.empty(self.name)
        q = serving.query_vector(ctx)
        if q is None:
            return SourceResult.empty(self.name)
        seen = np.concatenate([ctx.user_history.purchased(), ctx.session.rows])
        rows, scores = await asyncio.to_thread(serving.top, q, k, seen)
        return SourceResult(self.name, rows, scores, model=("graph", serving.version))


class BoughtTogetherSource(GraphBacked):
    name = "bought_together"

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        serving = self.model.current
        if serving is None:
            return SourceResult.empty(self.name)
        rows, scores = serving.bought_together(ctx, k)
        return SourceResult(self.name, rows, scores, model=("graph", serving.version))
