"""One small interface per stage kind. Every stage has a name used in explanations and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, Bool
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import RequestContext


class CandidateSource(Protocol):
    name: str

    @property
    def surfaces(self) -> frozenset[Surface]:
        """The surfaces this source serves; empty when it is switched off."""
        ...

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult: ...


@dataclass(frozen=True, slots=True)
class FilterResult:
    """``kept[i]`` says whether candidate i stays; removed ones are explained by ``reason``."""

    kept: Bool
    reason: str

    @property
    def removed(self) -> int:
        return int((~self.kept).sum())


class CandidateFilter(Protocol):
    name: str

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult: ...


@dataclass(frozen=True, slots=True)
class FeatureFrame:
    names: tuple[str, ...]
    values: F32  # candidates x features, float32; NaN means missing


class Hydrator(Protocol):
    name: str

    def hydrate(
        self, ctx: RequestContext, pool: CandidatePool, within: CandidatePool | None = None
    ) -> FeatureFrame:
        """``within``: the request's whole pool when ``pool`` is a sample of it."""
        ...


class Scorer(Protocol):
    name: str
    version: str

    def score(self, frame: FeatureFrame) -> F32: ...

    def contributions(self, frame: FeatureFrame, idx: npt.NDArray[np.int64]) -> F32:
        """Per-feature contributions to the score of candidates ``idx`` (len(idx) x features)."""
        ...


@dataclass(frozen=True, slots=True)
class Ranked:
    """Candidates in final order: ``order`` indexes into the pool; notes say who moved what."""

    order: npt.NDArray[np.int64]
    scores: F32
    notes: dict[int, list[str]]


class Reranker(Protocol):
    name: str

    def rerank(self, ctx: RequestContext, pool: CandidatePool, ranked: Ranked) -> Ranked: ...
