import asyncio

import numpy as np
import pytest

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.executor import Executor
from engine.core.pipeline.spec import PipelineSpec, SourceSpec
from engine.core.pipeline.stages import FeatureFrame, FilterResult, Ranked
from ltr.scorers import HeuristicScorer

BOTH = frozenset({Surface.feed, Surface.search})


class FixedSource:
    def __init__(
        self,
        name: str,
        rows: list[int],
        delay: float = 0.0,
        fail: bool = False,
        surfaces: frozenset[Surface] = BOTH,
    ) -> None:
        self.name, self.rows, self.delay, self.fail, self.surfaces = (
            name,
            rows,
            delay,
            fail,
            surfaces,
        )

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("backend down")
        rows = np.array(self.rows[:k], np.int64)
        return SourceResult(self.name, rows, np.linspace(1, 0.5, len(rows)).astype(np.float32))


class RankFeatures:
    name = "features"

    def hydrate(
        self, ctx: RequestContext, pool: CandidatePool, within: CandidatePool | None = None
    ) -> FeatureFrame:
        names = tuple(f"src_{n}_rank" for n in pool.source_names)
        return FeatureFrame(names, np.log1p(pool.source_ranks).astype(np.float32))


class BrokenScorer(HeuristicScorer):
    name = "broken"
    version = "broken-1"

    def score(self, frame: FeatureFrame) -> np.ndarray:
        raise RuntimeError("model file corrupt")


class DropOdd:
    name = "drop_odd"

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult:
        return FilterResult(pool.rows % 2 == 0, "odd row")


class ReverseAndDropLast:
    """Reverses the order and drops the last two candidates of it."""

    name = "reverse_drop"

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked:
        return Ranked(ranked.order[::-1][:-2].copy(), ranked.scores, ranked.notes)


def _spec(*sources: SourceSpec, scorer=None, filters=(), rerankers=()) -> PipelineSpec:
    return PipelineSpec(
        sources=sources,
        pre_filters=filters,
        hydrator=RankFeatures(),
        scorer=scorer or HeuristicScorer(),
        fallback_scorer=HeuristicScorer(),
        rerankers=rerankers,
    )


def _ctx(surface: Surface = Surface.feed) -> RequestContext:
    return RequestContext(request_id="r1", surface=surface, now=0.0, query="q")


async def test_slow_source_is_skipped_and_flagged() -> None:
    spec = _spec(
        SourceSpec(FixedSource("fast", [1, 2, 3]), 10, 200.0),
        SourceSpec(FixedSource("slow", [7, 8], delay=0.5), 10, 20.0),
    )
    res = await Executor(spec).run(_ctx())
    assert sorted(res.pool.rows.tolist()) == [1, 2, 3]
    assert res.degraded == ["source slow timed out"]
    status = {t.stage: t.status for t in res.timings}
    assert status["slow"] == "timeout" and status["fast"] == "ok"


async def test_failing_source_is_skipped_when_fail_open() -> None:
    spec = _spec(
        SourceSpec(FixedSource("a", [1, 2]), 10, 100.0),
        SourceSpec(FixedSource("b", [5], fail=True), 10, 100.0),
    )
    res = await Executor(spec).run(_ctx())
    assert res.pool.rows.tolist() == [1, 2]
    assert "backend down" in res.degraded[0]


async def test_failing_source_raises_when_not_fail_open() -> None:
    spec = _spec(SourceSpec(FixedSource("b", [5], fail=True), 10, 100.0, fail_open=False))
    with pytest.raises(RuntimeError, match="backend down"):
        await Executor(spec).run(_ctx())


async def test_sources_only_run_on_their_surfaces() -> None:
    spec = _spec(
        SourceSpec(FixedSource("feedonly", [1], surfaces=frozenset({Surface.feed})), 10, 100.0),
        SourceSpec(FixedSource("both", [2]), 10, 100.0),
    )
    res = await Executor(spec).run(_ctx(Surface.search))
    assert res.pool.rows.tolist() == [2]


async def test_broken_scorer_falls_back_and_flags() -> None:
    spec = _spec(SourceSpec(FixedSource("a", [4, 2, 9]), 10, 100.0), scorer=BrokenScorer())
    res = await Executor(spec).run(_ctx())
    assert res.scorer.name == "heuristic"
    assert any("model file corrupt" in d for d in res.degraded)
    # heuristic keeps the source order: rank 0 first
    assert res.pool.rows[res.ranked.order].tolist() == [4, 2, 9]


async def test_filters_report_every_removed_row() -> None:
    spec = _spec(SourceSpec(FixedSource("a", [1, 2, 3, 4]), 10, 100.0), filters=(DropOdd(),))
    res = await Executor(spec).run(_ctx())
    assert sorted(res.pool.rows.tolist()) == [2, 4]
    assert sorted((r.row, r.stage, r.reason) for r in res.removed) == [
        (1, "drop_odd", "odd row"),
        (3, "drop_odd", "odd row"),
    ]
    assert res.candidates == 4


async def test_reranker_drops_are_reported_and_permutations_are_not() -> None:
    spec = _spec(
        SourceSpec(FixedSource("a", [40, 10, 30, 20, 50]), 10, 100.0),
        rerankers=(ReverseAndDropLast(),),
    )
    res = await Executor(spec).run(_ctx())
    # heuristic order follows the source: 40 10 30 20 50; reversed: 50 20 30 10 40
    assert res.pool.rows[res.ranked.order].tolist() == [50, 20, 30]
    assert [(r.row, r.stage) for r in res.removed] == [(10, "reverse_drop"), (40, "reverse_drop")]
