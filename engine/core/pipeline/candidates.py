"""Candidates travel as columns: one row per unique item, one score column per source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32
from engine.core.pipeline.context import Rows


@dataclass(frozen=True, slots=True)
class SourceResult:
    source: str
    rows: Rows
    scores: F32
    note: str = ""  # a degradation the source served through (the response is flagged)
    model: tuple[str, str] | None = None  # (kind, version) of the model the source read
    query: npt.NDArray[np.float32] | None = None  # the query-side vector it searched with

    @staticmethod
    def empty(source: str) -> SourceResult:
        return SourceResult(source, np.zeros(0, np.int64), np.zeros(0, np.float32))


@dataclass(frozen=True, slots=True)
class CandidatePool:
    """Union of source results. ``source_scores[i, j]`` is source j's score of row i, NaN if
    source j did not propose it; ``source_ranks`` likewise (0-based, NaN if absent)."""

    rows: Rows
    source_names: tuple[str, ...]
    source_scores: F32
    source_ranks: F32

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def merge(results: Sequence[SourceResult], sources: Sequence[str], limit: int) -> CandidatePool:
        """Union of ``results``; when over ``limit`` keep items by best rank in any source."""
        names = tuple(sources)
        col = {name: j for j, name in enumerate(names)}
        parts = [r for r in results if len(r.rows)]
        if not parts:
            empty = np.zeros((0, len(names)), np.float32)
            return CandidatePool(np.zeros(0, np.int64), names, empty, empty.copy())
        all_rows = np.concatenate([r.rows for r in parts])
        rows, inverse = np.unique(all_rows, return_inverse=True)
        scores = np.full((len(rows), len(names)), np.nan, np.float32)
        ranks = np.full((len(rows), len(names)), np.nan, np.float32)
        start = 0
        for r in parts:
            idx = inverse[start : start + len(r.rows)]
            scores[idx, col[r.source]] = r.scores
            ranks[idx, col[r.source]] = np.arange(len(r.rows), dtype=np.float32)
            start += len(r.rows)
        pool = CandidatePool(rows, names, scores, ranks)
        if len(rows) > limit:
            best = np.fmin.reduce(ranks, axis=1)  # nanmin without its copy: a row has a rank
            keep = np.sort(np.argsort(best, kind="stable")[:limit])
            pool = pool.take(keep)
        return pool

    def with_rows(self, extra: Rows) -> CandidatePool:
        """Add rows no source proposed (NaN scores), e.g. logged impressions for training."""
        new = np.setdiff1d(np.unique(extra), self.rows)
        if len(new) == 0:
            return self
        pad = np.full((len(new), len(self.source_names)), np.nan, np.float32)
        return CandidatePool(
            np.concatenate([self.rows, new]),
            self.source_names,
            np.concatenate([self.source_scores, pad]),
            np.concatenate([self.source_ranks, pad]),
        )

    def take(self, idx: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> CandidatePool:
        return CandidatePool(
            self.rows[idx], self.source_names, self.source_scores[idx], self.source_ranks[idx]
        )

    def proposed_by(self, i: int) -> dict[str, float]:
        s = self.source_scores[i]
        return {n: float(s[j]) for j, n in enumerate(self.source_names) if not np.isnan(s[j])}
