"""Pipelines are data: an ordered spec of stages with deadlines and fail-open flags."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.contracts import Surface
from engine.core.pipeline.stages import CandidateFilter, CandidateSource, Hydrator, Reranker, Scorer


@dataclass(frozen=True, slots=True)
class SourceSpec:
    source: CandidateSource
    k: int
    deadline_ms: float
    fail_open: bool = True  # a failure or timeout skips the source and flags the response


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    sources: tuple[SourceSpec, ...]
    pre_filters: tuple[CandidateFilter, ...]
    hydrator: Hydrator
    scorer: Scorer
    fallback_scorer: Scorer
    rerankers: tuple[Reranker, ...]
    rules: tuple[Reranker, ...] = ()  # merchandiser rules act here, after the ranker
    max_candidates: int = 3000

    def sources_for(self, surface: Surface) -> tuple[SourceSpec, ...]:
        return tuple(s for s in self.sources if surface in s.source.surfaces)

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(s.source.name for s in self.sources)
