"""The engine: one pipeline serving search and feed, composed with the jobs beside it (each in
its own module): behaviour events (:mod:`engine.serving.events`), catalog writes
(:mod:`engine.serving.item_writes`), live drift (:mod:`engine.serving.drift_watch`), the live
merchandising rules (:mod:`engine.serving.rules.live`) and the served models' holders
(:mod:`engine.serving.models`)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import FeedRequest, RankedResponse, SearchRequest
from engine.core.online_store import OnlineStore
from engine.core.pipeline.executor import Executor, Timing
from engine.core.pipeline.spec import PipelineSpec
from engine.core.pipeline.stages import Scorer
from engine.core.search import SearchIndex
from engine.core.settings import Settings
from engine.core.signals import Signals
from engine.core.spelling import Speller
from engine.serving.context_builder import build_context
from engine.serving.drift import Reference
from engine.serving.drift_watch import DriftWatch
from engine.serving.events import EventRecorder
from engine.serving.feature_log import FeatureLog
from engine.serving.item_writes import ItemWrites
from engine.serving.metrics import Metrics
from engine.serving.models import ServedModels
from engine.serving.pipelines import cold_start_of
from engine.serving.responses import build_response
from engine.serving.rules.apply import effects_for
from engine.serving.rules.live import LiveRules
from engine.serving.rules.ruleset import RuleSet
from engine.serving.rules.store import ControlStore
from engine.serving.sources.graph import GraphBacked
from engine.serving.sources.switch import Switched
from engine.serving.sources.two_tower import TwoTowerSource
from engine.serving.spelling import SpellerHolder
from ingest.log import IngestLog
from ltr.features import Feature, FeatureHydrator

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.engine")


class Engine:
    """Ranking (:meth:`rank`), with ``events``, ``writes``, ``drift`` and ``rules`` beside it."""

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
        self.spelling = SpellerHolder(catalog, enabled=settings.spelling)
        self.feature_log = FeatureLog(settings.feature_log_dir, settings.feature_log_rate)
        self.cold_start = cold_start_of(spec)  # new items' priors and evidence, online store
        if self.cold_start.store is not store:
            raise ValueError("the pipeline's new_arrivals source reads another online store")
        self.rules = LiveRules(
            ControlStore(settings.control_target, key_secret=settings.key_secret)
        )
        self.drift = DriftWatch(settings, spec, self.feature_log, reference, self.towers)
        self.events = EventRecorder(catalog, store, self.cold_start, self.models, self.metrics)
        self.writes = ItemWrites(
            settings,
            catalog,
            index,
            models=self.models,
            cold_start=self.cold_start,
            metrics=self.metrics,
            on_catalog_change=self._catalog_changed,
            ingest_log=ingest_log,
        )
        self.models.graph.on_swap(self._graph_swapped)
        self.models.towers.on_swap(self._towers_swapped)

    @property
    def towers(self) -> TowerServing | None:
        return self.models.towers.current

    @property
    def graph(self) -> GraphServing | None:
        return self.models.graph.current

    def use_scorer(self, scorer: Scorer, features: list[Feature] | None = None) -> None:
        """Rank with ``scorer`` (reading ``features``, by default the served ones) from now
        on, everything else unchanged: how offline jobs measure a candidate ranker on the
        served pipeline (sources, re-rankers, rules)."""
        hydrator = self.spec.hydrator
        if features is not None and isinstance(hydrator, FeatureHydrator):
            hydrator = hydrator.with_features(features)
        self.spec = dataclasses.replace(self.spec, scorer=scorer, hydrator=hydrator)
        self.executor = Executor(self.spec)

    def _graph_swapped(self, graph: GraphServing) -> None:
        self.versions["graph"] = graph.version

    def _towers_swapped(self, towers: TowerServing) -> None:
        """The index must hold this model's vectors already (see
        :mod:`engine.app.towers_rollout`)."""
        self.writes.towers_swapped()
        self.versions["towers"] = towers.version
        self.drift.towers_swapped(towers)

    def speller(self) -> Speller | None:
        """The catalog's speller; None until its first build is done."""
        return self.spelling.get()

    def _catalog_changed(self) -> None:
        self.spelling.catalog_changed()
        self.signals.resize(self.catalog.category.values)
        if isinstance(self.spec.hydrator, FeatureHydrator):
            self.spec.hydrator.catalog_changed()

    async def seed_new_items(self, chunk: int = 10_000) -> int:
        """At start: seed the cold-start prior of every item still in its window (a no-op for
        those the store already holds). Returns how many items are in their window."""
        rows = np.arange(len(self.catalog), dtype=np.int64)
        n = 0
        for s in range(0, len(rows), chunk):
            n += await self.cold_start.admit(rows[s : s + chunk], time.time())
        return n

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
        ctx = ctx.spelled(self.speller())
        live = self.rules.current if rules is None else rules
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

    async def close(self) -> None:
        self.rules.close()
        await self.events.close()
        await self.feature_log.flush()
        await self.writes.close()
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
