"""The engine: one pipeline serving search and feed, plus catalog and event writes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.catalog import Catalog
from engine.catalog_log import CatalogLog
from engine.context_builder import build_context
from engine.contracts import Event, EventType, FeedRequest, Item, RankedResponse, SearchRequest
from engine.pipeline.context import KIND_CART, KIND_CLICK, KIND_PURCHASE, KIND_VIEW
from engine.pipeline.executor import Executor
from engine.pipeline.spec import PipelineSpec
from engine.responses import build_response
from engine.settings import Settings
from engine.signals import KIND_WEIGHT, Signals
from engine.state.protocol import Bump, Interaction, OnlineStore, Recorded, StoreUnavailable
from graph.cooccurrence import Events as GraphEvents
from ltr.features import FeatureHydrator
from search_plugins.protocol import IndexDoc, IndexUnavailable, SearchIndex, UpsertReport

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.engine")

_KIND = {
    EventType.impression: KIND_VIEW,
    EventType.click: KIND_CLICK,
    EventType.add_to_cart: KIND_CART,
    EventType.purchase: KIND_PURCHASE,
}


@dataclass
class ItemWriteReport:
    applied: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # durable; index write retried later


class Engine:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        index: SearchIndex,
        store: OnlineStore,
        signals: Signals,
        spec: PipelineSpec,
        versions: dict[str, str],
        log: CatalogLog | None = None,
        towers: TowerServing | None = None,
        graph: GraphServing | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.index = index
        self.store = store
        self.signals = signals
        self.spec = spec
        self.executor = Executor(spec)
        self.versions = versions
        self.log = log
        self.towers = towers  # item vectors of new items are computed from content at ingest
        self.graph = graph  # graph vectors of new items from content; events update its graph
        # Index writes that failed transiently, id -> version: the catalog (and its log) has
        # them, the index does not yet. Each later write, and the drain loop, retries them.
        self.backlog_upserts: dict[str, int] = {}
        self.backlog_deletes: dict[str, int] = {}

    async def rank(
        self, req: SearchRequest | FeedRequest, request_id: str | None = None
    ) -> RankedResponse:
        degraded: list[str] = []
        ctx = await build_context(req, self.catalog, self.store, degraded, request_id)
        t = time.perf_counter()
        res = await self.executor.run(ctx)
        resp = build_response(ctx, res, self.catalog, self.versions, degraded)
        log.info(
            "ranked",
            extra={
                "request_id": ctx.request_id,
                "surface": ctx.surface.value,
                "candidates": res.candidates,
                "degraded": resp.degraded,
                "ms": round((time.perf_counter() - t) * 1e3, 3),
            },
        )
        return resp

    async def record_events(self, events: Sequence[Event]) -> tuple[int, list[str]]:
        """Store session/user interactions; returns (accepted, warnings)."""
        recs = [
            Recorded(
                e.session_id, e.user_id, Interaction(e.item_id, _KIND[e.type], e.ts.timestamp())
            )
            for e in events
            if e.item_id is not None and e.type in _KIND and e.type != EventType.impression
        ]
        warnings: list[str] = []
        if recs:
            try:
                await self.store.record(recs)
                await self.store.bump(self._bumps(recs))
            except StoreUnavailable as exc:
                raise StoreUnavailable(f"events not stored: {exc}") from exc
            if self.graph is not None:
                await asyncio.to_thread(self.graph.record, self._graph_events(recs))
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
        g = self.graph
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

    async def upsert_items(self, items: Sequence[Item]) -> ItemWriteReport:
        if self.log is not None:
            self.log.upserts(items)  # durable before it is acknowledged
        res = self.catalog.upsert(items)
        report = ItemWriteReport(stale=list(res.stale))
        if res.applied:
            self.signals.resize(self.catalog.category.values)
            self._catalog_changed()
            rows = np.asarray(res.applied, np.int64)
            if self.towers is not None:
                await asyncio.to_thread(self.towers.ensure, self.catalog, rows)
            if self.graph is not None:
                self.graph.ensure(self.catalog, rows)
            for r in res.applied:
                self.backlog_upserts[self.catalog.ids[r]] = int(self.catalog.version.values[r])
        written = {self.catalog.ids[r] for r in res.applied}
        done, failed = await self._write_upserts()
        report.applied = [i for i in done if i in written]
        report.failed = {i: why for i, why in failed.items() if i in written}
        report.pending = sorted(i for i in self.backlog_upserts if i in written)
        return report

    async def _write_upserts(self) -> tuple[list[str], dict[str, str]]:
        """Send the upsert backlog to the index; what fails transiently stays in it."""
        rows = [self.catalog.row_of.get(i) for i in self.backlog_upserts]
        docs = [self._doc(r) for r in rows if r is not None]
        self.backlog_upserts = {d.id: d.version for d in docs}
        if not docs:
            return [], {}
        try:
            ur: UpsertReport = await self.index.upsert(docs)
            await self.index.refresh()
        except IndexUnavailable as exc:
            log.warning("index unavailable, %d item writes pending: %s", len(docs), exc)
            return [], {}
        for d in docs:
            if d.id not in ur.retryable:
                self.backlog_upserts.pop(d.id, None)
        failed = {i: why for i, why in ur.failed.items() if i not in ur.retryable}
        done = [d.id for d in docs if d.id not in ur.failed]  # applied, or stale: index newer
        return done, failed

    def _doc(self, row: int) -> IndexDoc:
        """The row's index document, with its vector of the served model when it has one."""
        t = self.towers
        vec = t.vector(row) if t is not None else None
        if t is None or vec is None:
            return self.catalog.index_doc(row)
        return self.catalog.index_doc(row, vec, t.version)

    async def delete_item(self, item_id: str, version: int) -> bool:
        row = self.catalog.row_of.get(item_id)
        if row is None or int(self.catalog.version.values[row]) > version:
            return False
        if self.log is not None:
            self.log.delete(item_id, version)
        self.catalog.delete(item_id, version)
        self.backlog_upserts.pop(item_id, None)
        self.backlog_deletes[item_id] = version
        await self._write_deletes()
        return True

    async def _write_deletes(self) -> None:
        for item_id, version in list(self.backlog_deletes.items()):
            try:
                await self.index.delete([item_id], version)
            except IndexUnavailable as exc:
                log.warning("index unavailable, delete of %s pending: %s", item_id, exc)
                return
            del self.backlog_deletes[item_id]
        try:
            await self.index.refresh()
        except IndexUnavailable as exc:
            log.warning("index refresh after deletes failed: %s", exc)

    @property
    def backlog(self) -> int:
        return len(self.backlog_upserts) + len(self.backlog_deletes)

    async def drain_backlog(self) -> int:
        """Retry pending index writes; returns how many are still pending."""
        if self.backlog_deletes:
            await self._write_deletes()
        if self.backlog_upserts:
            await self._write_upserts()
        return self.backlog

    def _catalog_changed(self) -> None:
        if isinstance(self.spec.hydrator, FeatureHydrator):
            self.spec.hydrator.catalog_changed()

    async def close(self) -> None:
        await self.index.close()
        await self.store.close()
