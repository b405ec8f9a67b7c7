"""A candidate source switched off by configuration: same name, no surface, never called."""

from __future__ import annotations

from engine.contracts import Surface
from engine.pipeline.candidates import SourceResult
from engine.pipeline.context import RequestContext
from engine.pipeline.stages import CandidateSource


class Switched:
    def __init__(self, source: CandidateSource) -> None:
        self.source = source
        self.name = source.name
        self.surfaces: frozenset[Surface] = frozenset()

    async def fetch(self, ctx: RequestContext, k: int) -> SourceResult:
        return SourceResult.empty(self.name)
