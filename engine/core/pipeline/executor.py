"""Runs a :class:`PipelineSpec` for one request. Stages never call each other; this does."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.spec import PipelineSpec, SourceSpec
from engine.core.pipeline.stages import FeatureFrame, Ranked, Scorer

log = logging.getLogger("shopnow.pipeline")


@dataclass(frozen=True, slots=True)
class Timing:
    stage: str
    ms: float
    status: str  # ok | timeout | error | skipped
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Removal:
    row: int
    stage: str
    reason: str


@dataclass
class Reads:
    """What a request's sources read: model versions by kind, query vectors by source."""

    models: dict[str, str] = field(default_factory=dict)
    query_vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)

    def add(self, res: SourceResult) -> None:
        if res.model is not None:
            self.models[res.model[0]] = res.model[1]
        if res.query is not None:
            self.query_vectors[res.source] = res.query


@dataclass
class PipelineResult:
    pool: CandidatePool
    ranked: Ranked
    frame: FeatureFrame
    scorer: Scorer
    timings: list[Timing] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    candidates: int = 0
    reads: Reads = field(default_factory=Reads)


class Executor:
    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec

    async def retrieve(
        self,
        ctx: RequestContext,
        timings: list[Timing],
        degraded: list[str],
        reads: Reads | None = None,
    ) -> CandidatePool:
        """Run the surface's candidate sources concurrently, each under its own deadline;
        ``reads`` gets the models and query vectors they used."""
        specs = self.spec.sources_for(ctx.surface)
        results = await asyncio.gather(*(self._fetch(s, ctx, timings, degraded) for s in specs))
        if reads is not None:
            for r in results:
                reads.add(r)
        return CandidatePool.merge(results, self.spec.source_names, self.spec.max_candidates)

    async def run(self, ctx: RequestContext) -> PipelineResult:
        timings: list[Timing] = []
        degraded: list[str] = []
        reads = Reads()
        pool = await self.retrieve(ctx, timings, degraded, reads)
        if ctx.rules is not None and ctx.rules.pins:  # pinned items compete like the others
            pool = pool.with_rows(ctx.rules.pinned_rows)
        t = time.perf_counter()
        candidates = len(pool)
        removed: list[Removal] = []
        pool = self.prefilter(ctx, pool, removed)
        timings.append(_since("filters", t))

        t = time.perf_counter()
        frame = self.spec.hydrator.hydrate(ctx, pool)
        timings.append(_since(self.spec.hydrator.name, t))

        t = time.perf_counter()
        scorer: Scorer = self.spec.scorer
        try:
            scores = scorer.score(frame)
            timings.append(_since(scorer.name, t))
        except Exception as exc:  # a broken model must not take the request down
            log.exception("scorer %s failed", scorer.name)
            degraded.append(f"scorer {scorer.name} failed: {exc}; heuristic ranking used")
            timings.append(_since(scorer.name, t, "error", str(exc)))
            scorer = self.spec.fallback_scorer
            scores = scorer.score(frame)
        order = np.argsort(-scores, kind="stable").astype(np.int64)
        ranked = Ranked(order, scores, {})

        for stage in (*self.spec.rerankers, *self.spec.rules):
            t = time.perf_counter()
            before, noted = ranked.order, ranked.notes
            ranked = stage.rerank(ctx, pool, ranked)
            for i in _dropped(before, ranked.order, len(pool)).tolist():
                said = ranked.notes.get(i, [])[len(noted.get(i, [])) :]  # by this stage
                removed.append(Removal(int(pool.rows[i]), stage.name, "; ".join(said) or "removed"))
            timings.append(_since(stage.name, t))
        return PipelineResult(
            pool, ranked, frame, scorer, timings, removed, degraded, candidates, reads
        )

    def prefilter(
        self, ctx: RequestContext, pool: CandidatePool, removed: list[Removal] | None = None
    ) -> CandidatePool:
        """The pool without what the pre-filters remove (``removed`` gets each removal): the
        candidates the scorer sees, which ranker training also learns on."""
        for flt in self.spec.pre_filters:
            fr = flt.apply(ctx, pool)
            if fr.removed:
                if removed is not None:
                    removed.extend(
                        Removal(int(r), flt.name, fr.reason) for r in pool.rows[~fr.kept]
                    )
                pool = pool.take(fr.kept)
        return pool

    async def _fetch(
        self, spec: SourceSpec, ctx: RequestContext, timings: list[Timing], degraded: list[str]
    ) -> SourceResult:
        name = spec.source.name
        t = time.perf_counter()
        try:
            res = await asyncio.wait_for(spec.source.fetch(ctx, spec.k), spec.deadline_ms / 1e3)
        except TimeoutError:
            timings.append(_since(name, t, "timeout", f"deadline {spec.deadline_ms:g} ms"))
            if not spec.fail_open:
                raise
            degraded.append(f"source {name} timed out")
            return SourceResult.empty(name)
        except Exception as exc:
            log.warning("source %s failed: %s", name, exc)
            timings.append(_since(name, t, "error", str(exc)))
            if not spec.fail_open:
                raise
            degraded.append(f"source {name} failed: {exc}")
            return SourceResult.empty(name)
        timings.append(_since(name, t, "ok", f"{len(res.rows)} candidates"))
        if res.note:
            degraded.append(f"source {name}: {res.note}")
        return res


def _dropped(
    before: npt.NDArray[np.int64], after: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.intp]:
    """Pool positions in ``before`` but not in ``after``, ascending (a reranker's drops)."""
    gone = np.zeros(n, np.bool_)
    gone[before] = True
    gone[after] = False
    return np.flatnonzero(gone)


def _since(stage: str, t: float, status: str = "ok", detail: str = "") -> Timing:
    return Timing(stage, (time.perf_counter() - t) * 1e3, status, detail)
