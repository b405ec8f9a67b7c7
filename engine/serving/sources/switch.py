"""A candidate source switched off by configuration: same name, no surface, never called."""

from __future__ import annotations

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import CandidateSource


class Switched:
    def __init__(self, source: CandidateSource) -> None:
        self.source = source
        self.name = source.name
        self.surfaces: frozenset[Surface] = frozenset()

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        return SourceResult.empty(self.name)
