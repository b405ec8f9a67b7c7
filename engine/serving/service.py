"""The engine: one pipeline serving search and feed, plus catalog and event writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Event, EventType, FeedRequest, Item, RankedResponse, SearchRequest
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
from engine.core.pipeline.executor import Executor, Timing
from engine.core.pipeline.spec import PipelineSpec
from engine.core.search import SearchIndex
from engine.core.settings import Settings
from engine.core.signals import KIND_WEIGHT, Signals
from engine.serving.context_builder import build_context
from engine.serving.drift import Reference, drift_report
from engine.serving.feature_log import FeatureLog
from engine.serving.metrics import Metrics
from engine.serving.models import ServedModels
from engine.serving.pipelines import cold_start_of
from engine.serving.responses import build_response
from engine.serving.rules.apply import effects_for
from engine.serving.rules.ruleset import RuleSet
from engine.serving.rules.store import ControlStore
from engine.serving.sources.graph import GraphBacked
from engine.serving.sources.switch import Switched
from engine.serving.sources.two_tower import TwoTowerSource
from engine.serving.tower_drift import OutputReference, load_output_reference, output_drift
from engine.serving.writes import OWED_VECTORS_FILE, CatalogWriter
from graph.cooccurrence import Events as GraphEvents
from ingest.deadletter import DeadLetters
from ingest.log import IngestLog, delete_body, upsert_body
from ingest.worker import APPLIED, PENDING, STALE, IngestWorker, Transient
from ltr.features import FeatureHydrator

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
        models: ServedModels | None = None,
        ingest_log: IngestLog | None = None,
        metrics: Metrics | None = None,
        reference: Reference | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.index = index
        self.store = store
        self.signals = signals
        self.spec = spec
        self.executor = Executor(spec)
        self.versions = versions
        # the served towers and graph: the pipeline's sources read these same holders, ingest
        # computes new items' vectors with them, events update the graph's bought-together
        self.models = models or ServedModels.of()
        _check_shared(spec, self.models)
        for holder in (self.models.towers, self.models.graph):
            if holder.current is not None:
                versions.setdefault(holder.kind, holder.current.version)
        self.metrics = metrics or Metrics()
        self.feature_log = FeatureLog(settings.feature_log_dir, settings.feature_log_rate)
        self.reference = reference  # the served ranker's drift reference, when it has one
        self.output_reference = _output_reference(self.towers)  # the served towers' one
        self.control = ControlStore(  # rules, keys, audit log
            settings.control_file, key_secret=settings.key_secret
        )
        self.rules = RuleSet(self.control.rules(), self.control.revision())
        self.cold_start = cold_start_of(spec)  # new items' priors and evidence, online store
        if self.cold_start.store is not store:
            raise ValueError("the pipeline's new_arrivals source reads another online store")
        directory = settings.ingest_path
        self.ingest_log = ingest_log or IngestLog(directory, settings.ingest_capacity)
        self.writer = CatalogWriter(
            catalog,
            index,
            DeadLetters(directory),
            models=self.models,
            cold_start=self.cold_start,
            on_catalog_change=self._catalog_changed,
            on_stage=lambda st, sec: self.metrics.ingest_stage_seconds.labels(st).observe(sec),
            on_freshness=self._fresh,
            owed_path=directory / OWED_VECTORS_FILE,
        )
        self.writer.restore_owed()
        self.worker = IngestWorker(
            self.ingest_log,
            self.writer,
            batch_size=settings.ingest_batch,
            persist_every_s=settings.ingest_persist_s,
            on_freshness=self._fresh,
            on_outcome=lambda status: self.metrics.ingested.labels(status).inc(),
            on_poison=lambda offset, reason: self.metrics.ingest_poison.inc(),
        )

        self.models.graph.on_swap(self._graph_swapped)
        self.models.towers.on_swap(self._towers_swapped)

    @property
    def towers(self) -> TowerServing | None:
        return self.models.towers.current

    @property
    def graph(self) -> GraphServing | None:
        return self.models.graph.current

    def _graph_swapped(self, graph: GraphServing) -> None:
        self.versions["graph"] = graph.version

    def _towers_swapped(self, towers: TowerServing) -> None:
        """The vector lane owes the rows whose vector of this model is provisional. The index
        must hold this model's vectors already (see :mod:`engine.app.towers_rollout`)."""
        if self.writer.lane is not None:
            self.writer.lane.owed.clear()  # owed vectors of the old model
            self.writer.restore_owed(from_checkpoint=False)
        self.versions["towers"] = towers.version
        self.output_reference = _output_reference(towers)

    async def seed_new_items(self, chunk: int = 10_000) -> int:
        """At start: seed the cold-start prior of every item still in its window (a no-op for
        those the store already holds). Returns how many items are in their window."""
        rows = np.arange(len(self.catalog), dtype=np.int64)
        n = 0
        for s in range(0, len(rows), chunk):
            n += await self.cold_start.admit(rows[s : s + chunk], time.time())
        return n

    def recent_drift(self, min_rows: int = 200) -> dict[str, Any] | None:
        """Drift of the rows logged recently (in memory) against the served ranker's
        reference; None without a reference or with fewer than ``min_rows`` rows."""
        ref, recent = self.reference, self.feature_log.recent
        ranker = getattr(self.spec.scorer, "version", None)
        if ref is None or not recent:
            return None
        rows = [r for r in recent if r[0] == ranker]
        if sum(len(r[3]) for r in rows) < min_rows:
            return None
        idx = {n: j for j, n in enumerate(rows[0][1])}
        values = np.concatenate([r[2] for r in rows])
        cols = np.full((len(values), len(ref.feature_names)), np.nan, np.float32)
        for j, n in enumerate(ref.feature_names):
            if n in idx:
                cols[:, j] = values[:, idx[n]]
        return drift_report(
            ref,
            ref.feature_names,
            cols,
            np.concatenate([r[3] for r in rows]),
            self.spec.source_names,
            np.concatenate([r[4] for r in rows]),
            psi_alert=self.settings.drift_psi_alert,
            ks_alert=self.settings.drift_ks_alert,
        )

    def recent_output_drift(self, min_rows: int = 50) -> dict[str, Any] | None:
        """Drift of the served towers' recent query vectors (in memory) against their
        training window; None without a reference or with fewer than ``min_rows`` vectors."""
        ref = self.output_reference
        if ref is None:
            return None
        vecs = [q for model, q in self.feature_log.recent_queries if model == ref.model]
        if len(vecs) < min_rows:
            return None
        return output_drift(ref, np.stack(vecs), psi_alert=self.settings.drift_psi_alert)

    def _fresh(self, source: str, seconds: float) -> None:
        self.metrics.freshness.labels(source).observe(seconds)

    async def rank(
        self,
        req: SearchRequest | FeedRequest,
        request_id: str | None = None,
        *,
        rules: RuleSet | None = None,
    ) -> RankedResponse:
        """``rules``: instead of the live rules (a preview with a draft)."""
        degraded: list[str] = []
        ctx = await build_context(req, self.catalog, self.store, degraded, request_id)
        t = time.perf_counter()
        live = self.rules if rules is None else rules
        matched = live.match(
            ctx.surface, ctx.query, int(ctx.segment), ctx.filters.categories or (), ctx.now
        )
        effects = effects_for(matched, self.catalog, ctx.query)
        if effects is not None:
            ctx = ctx.with_rules(effects)
        res = await self.executor.run(ctx)
        resp = build_response(ctx, res, self.catalog, self.versions, degraded)
        self.feature_log.observe(ctx, res, self.catalog, self.versions)
        self._observe(ctx.surface.value, time.perf_counter() - t, res.timings, resp.degraded)
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

    def _observe(
        self, surface: str, seconds: float, timings: Sequence[Timing], degraded: bool
    ) -> None:
        m = self.metrics
        m.request_seconds.labels(surface).observe(seconds)
        for tm in timings:
            m.stage_seconds.labels(surface, tm.stage).observe(tm.ms / 1e3)
        if degraded:
            m.degraded.labels(surface).inc()

    async def record_events(self, events: Sequence[Event]) -> tuple[int, list[str]]:
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
            if self.graph is not None and recs:
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

    async def upsert_items(
        self, items: Sequence[Item], *, wait_s: float | None = None
    ) -> ItemWriteReport:
        """Accept ``items`` into the ingest log (durable once this returns, or
        :class:`~ingest.log.LogFull`), then wait up to ``wait_s`` (default: the setting) for them
        to reach every source; what has not by then is reported pending."""
        bodies = [upsert_body(it.model_dump(mode="json")) for it in items]
        return await self._submit(bodies, wait_s)

    async def delete_item(self, item_id: str, version: int) -> bool:
        """False when the catalog holds a newer version (nothing is logged then)."""
        row = self.catalog.row_of.get(item_id)
        if row is None or int(self.catalog.version.values[row]) > version:
            return False
        rep = await self._submit([delete_body(item_id, version)], None)
        return not rep.stale

    async def _submit(self, bodies: list[dict[str, Any]], wait_s: float | None) -> ItemWriteReport:
        offsets = await self.worker.accept(bodies)
        wait = self.settings.ingest_wait_s if wait_s is None else wait_s
        if wait > 0:
            await self.worker.until(offsets[-1], wait)
        report = ItemWriteReport()
        done = self.worker.outcomes(offsets)
        for off, body in zip(offsets, bodies, strict=True):
            out = done.get(off)
            item_id = body["item"]["id"] if body["op"] == "upsert" else body["id"]
            if out is None or out.status == PENDING:
                report.pending.append(item_id)
            elif out.status == APPLIED:
                report.applied.append(item_id)
            elif out.status == STALE:
                report.stale.append(item_id)
            else:
                report.failed[item_id] = out.detail or out.status
        return report

    @property
    def backlog(self) -> int:
        """Accepted catalog changes not yet applied, plus item vectors still owed."""
        return self.worker.lag + self.writer.owed

    async def drain_backlog(self) -> int:
        """Apply every accepted change and compute every owed vector now, then checkpoint;
        returns how many still wait (the index refusing writes)."""
        await self.worker.drain()
        if self.writer.lane is not None:
            await self.writer.lane.drain()
            await self.writer.persist()  # the lane's writes durable, the owed list current
        return self.backlog

    def _catalog_changed(self) -> None:
        self.signals.resize(self.catalog.category.values)
        if isinstance(self.spec.hydrator, FeatureHydrator):
            self.spec.hydrator.catalog_changed()

    def refresh_rules(self) -> bool:
        """Reload the rules when the control store changed since they were read (a
        primary-key lookup otherwise); True if reloaded. Blocking: run it off the loop."""
        revision = self.control.revision()
        if revision == self.rules.revision:
            return False
        self.rules = RuleSet(self.control.rules(), revision)
        return True

    async def close(self) -> None:
        self.control.close()
        await self.feature_log.flush()
        await self.worker.drain()
        if self.writer.lane is not None:  # what the lane still owes, for the next start
            with contextlib.suppress(Transient):
                await self.writer.persist()
        await self.index.close()
        await self.store.close()


def _check_shared(spec: PipelineSpec, models: ServedModels) -> None:
    """The spec's model-backed sources must read the engine's holders, or a swap would miss
    them."""
    for s in spec.sources:
        src = s.source.source if isinstance(s.source, Switched) else s.source
        if isinstance(src, TwoTowerSource) and src.model is not models.towers:
            raise ValueError(f"the pipeline's {src.name} source reads another towers holder")
        if isinstance(src, GraphBacked) and src.model is not models.graph:
            raise ValueError(f"the pipeline's {src.name} source reads another graph holder")


def _output_reference(towers: TowerServing | None) -> OutputReference | None:
    return None if towers is None else load_output_reference(towers.artifact_dir)


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
