"""Behaviour events into the online store: sessions, live popularity, CTR counters, the
cold-start evidence of new items and the graph model's bought-together edges."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Event, EventType
from engine.core.online_store import (
    Bump,
    Interaction,
    ItemCount,
    OnlineStore,
    Recorded,
    SessionQuery,
    StoreUnavailable,
)
from engine.core.pipeline.context import KIND_CART, KIND_CLICK, KIND_PURCHASE, KIND_VIEW
from engine.core.signals import KIND_WEIGHT
from engine.serving.cold_start import ColdStart
from engine.serving.metrics import Metrics
from engine.serving.models import ServedModels
from graph.cooccurrence import Events as GraphEvents

_KIND = {
    EventType.impression: KIND_VIEW,
    EventType.click: KIND_CLICK,
    EventType.add_to_cart: KIND_CART,
    EventType.purchase: KIND_PURCHASE,
}


class EventRecorder:
    def __init__(
        self,
        catalog: Catalog,
        store: OnlineStore,
        cold_start: ColdStart,
        models: ServedModels,
        metrics: Metrics,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.cold_start = cold_start
        self.models = models
        self.metrics = metrics

    async def record(self, events: Sequence[Event]) -> tuple[int, list[str]]:
        """Store session/user interactions; returns (accepted, warnings)."""
        recs = [
            Recorded(
                e.session_id, e.user_id, Interaction(e.item_id, _KIND[e.type], e.ts.timestamp())
            )
            for e in events
            if e.item_id is not None and e.type in _KIND and e.type != EventType.impression
        ]
        for e in events:
            self.metrics.events.labels(e.type.value).inc()
        warnings: list[str] = []
        seen = _item_counts(events)
        searches = [
            SessionQuery(e.session_id, e.query, e.ts.timestamp())
            for e in events
            if e.type == EventType.search and e.query
        ]
        if recs or seen or searches:
            try:
                await self.store.record(recs)
                await self.store.record_queries(searches)
                await self.store.bump(self._bumps(recs) + self.cold_start.evidence(recs))
                await self.store.count(seen)
            except StoreUnavailable as exc:
                raise StoreUnavailable(f"events not stored: {exc}") from exc
            graph = self.models.graph.current
            if graph is not None and recs:
                await asyncio.to_thread(graph.record, self._graph_events(recs))
        unknown = sorted(
            {
                e.item_id
                for e in events
                if e.item_id is not None and e.item_id not in self.catalog.row_of
            }
        )
        if unknown:
            warnings.append(f"unknown item ids (kept, not yet in catalog): {unknown[:20]}")
        return len(events), warnings

    def _graph_events(self, recs: Sequence[Recorded]) -> GraphEvents:
        """Recorded interactions on known items as bought-together graph events."""
        g = self.models.graph.current
        assert g is not None
        known = [(r, self.catalog.row_of.get(r.interaction.item_id)) for r in recs]
        known = [(r, row) for r, row in known if row is not None]
        return GraphEvents(
            np.array([g.user_key(r.user_id, r.session_id) for r, _ in known], np.int64),
            np.array([row for _, row in known], np.int64),
            np.array([r.interaction.kind for r, _ in known], np.int64),
            np.array([r.interaction.ts for r, _ in known], np.float64),
        )

    def _bumps(self, recs: Sequence[Recorded]) -> list[Bump]:
        """Live popularity: every weighted interaction counts globally and in its category."""
        out = []
        for r in recs:
            i = r.interaction
            w = float(KIND_WEIGHT[i.kind])
            if w <= 0:
                continue
            out.append(Bump("global", i.item_id, w, i.ts))
            row = self.catalog.row_of.get(i.item_id)
            if row is not None:
                out.append(Bump(f"cat:{self.catalog.category_name(row)}", i.item_id, w, i.ts))
        return out


def _item_counts(events: Sequence[Event]) -> list[ItemCount]:
    """Impressions and clicks per item, for the live CTR counters."""
    imp: dict[str, int] = {}
    clk: dict[str, int] = {}
    for e in events:
        if e.item_id is None:
            continue
        if e.type == EventType.impression:
            imp[e.item_id] = imp.get(e.item_id, 0) + 1
        elif e.type == EventType.click:
            clk[e.item_id] = clk.get(e.item_id, 0) + 1
    return [ItemCount(i, imp.get(i, 0), clk.get(i, 0)) for i in sorted(imp.keys() | clk.keys())]
