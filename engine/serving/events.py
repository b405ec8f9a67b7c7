"""Behaviour events into the online store: sessions, live popularity, CTR counters, the
cold-start evidence of new items and the graph model's bought-together edges.

While the store is unavailable (a Redis failover takes a few seconds), a batch's store writes
wait in a bounded spool in this process and are sent again in order once it answers
(:meth:`EventRecorder.drain`, run in the background by the server): the client gets 202 with
a warning rather than a 503. Only a full spool (``SPOOL_EVENTS``) refuses with 503, and what
the spool holds when the process stops is lost and counted (``shopnow_events_dropped``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

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

log = logging.getLogger(__name__)
SPOOL_EVENTS = 50_000  # events whose store writes may wait for the store, per process
RETRY_S = 0.5  # between attempts to send the spool while the store is unavailable
Write = Callable[[], Awaitable[None]]

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
        self._spool: deque[tuple[int, list[Write]]] = deque()  # (events, writes left), FIFO
        self._spooled = 0
        self._sending = asyncio.Lock()

    @property
    def spooled(self) -> int:
        """Events whose store writes wait for the store."""
        return self._spooled

    async def _send(self, n: int, writes: list[Write]) -> None:
        """Run ``writes`` in order; if the store fails, spool the ones left (or refuse when the
        spool is full). While the spool is empty, batches go straight to the store, side by
        side; once it holds something, they go behind it, one at a time."""
        failure: str | None = None
        if not self._spool:
            try:
                await _run(writes)
                return
            except StoreUnavailable as exc:
                failure = str(exc)
        async with self._sending:
            if failure is None:  # the spool held something: after it, if it can be sent
                failure = "the store is still unavailable"
                if await self._flush():
                    try:
                        await _run(writes)
                        return
                    except StoreUnavailable as exc:
                        failure = str(exc)
            if self._spooled + n > SPOOL_EVENTS:
                raise StoreUnavailable(
                    f"events not stored: {failure}, and {self._spooled} events already wait "
                    "for the store"
                )
            self._spool.append((n, writes))
            self._spooled += n
            self.metrics.events_spooled.set(self._spooled)

    async def _flush(self) -> bool:
        """Send what the spool holds, oldest first; False when the store still fails."""
        while self._spool:
            n, writes = self._spool[0]
            try:
                await _run(writes)
            except StoreUnavailable:
                return False
            self._spool.popleft()
            self._spooled -= n
            self.metrics.events_spooled.set(self._spooled)
        return True

    async def drain(self, forever: bool = True) -> None:
        """Send the spool whenever it holds something; ``forever=False``: try once."""
        while True:
            if self._spool:
                async with self._sending:
                    await self._flush()
            if not forever:
                return
            await asyncio.sleep(RETRY_S)

    async def close(self) -> None:
        """One last try to send the spool; what it still holds is lost, and counted."""
        await self.drain(forever=False)
        if self._spooled:
            log.error("%d accepted events never reached the online store", self._spooled)
            self.metrics.events_dropped.inc(self._spooled)
            self._spool.clear()
            self._spooled = 0
            self.metrics.events_spooled.set(0)

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
            bumps = self._bumps(recs) + self.cold_start.evidence(recs)
            store = self.store
            writes: list[Write] = [
                lambda: store.record(recs),
                lambda: store.record_queries(searches),
                lambda: store.bump(bumps),
                lambda: store.count(seen),
            ]
            await self._send(len(events), writes)
            if writes:
                warnings.append(
                    "the online store is unavailable: these events wait in the server and are "
                    "stored once it answers"
                )
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


async def _run(writes: list[Write]) -> None:
    """Run ``writes`` in order, removing each once done: on a failure, ``writes`` holds the
    ones left (the failed one first)."""
    while writes:
        await writes[0]()
        writes.pop(0)


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
