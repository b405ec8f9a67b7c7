"""The per-request figures behind the report's means, kept paired across the variants: one row
per held-out request and group (its segment, ``all``, and the ``fresh`` / ``new_week`` groups
of its young relevant items), one column per variant.

Quality (NDCG@10, HR@10, recall@10 of the final list) is recomputed per request from the same
page and relevant items the evaluation scores, with the same definitions
(:mod:`engine.core.ranking_metrics`), so the row means are the evaluation's figures. The
expected outcome per page (clicks, purchases, revenue) is added when the data has a hidden
response model (only the synthetic world does)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64
from engine.offline.evaluation.synthetic import (
    AGE_GROUPS,
    K_FINAL,
    OVERALL,
    SEGMENTS,
    Observation,
)

QUALITY = (f"ndcg@{K_FINAL}", f"hr@{K_FINAL}", f"recall@{K_FINAL}")
OUTCOME = ("clicks_per_request", "purchases_per_request", "revenue_per_request")
_DISCOUNT = 1.0 / np.log2(np.arange(K_FINAL) + 2.0)


@dataclass(frozen=True)
class Sample:
    """Rows (request, group) x variants; ``values[metric]`` is ``[rows, variants]``, NaN where a
    metric is not defined for a row (the outcome of the age groups, whose page is the request's
    own and already counted)."""

    variants: tuple[str, ...]
    request: I64
    user: I64
    surface: npt.NDArray[np.str_]
    group: npt.NDArray[np.str_]
    values: dict[str, F64]

    def __len__(self) -> int:
        return len(self.request)

    @property
    def has_outcome(self) -> bool:
        return all(m in self.values for m in OUTCOME)

    def rows(self, surface: str | None = None, groups: tuple[str, ...] = (OVERALL,)) -> np.ndarray:
        m = np.isin(self.group, groups)
        return m & (self.surface == surface) if surface is not None else m

    def counts(self) -> tuple[int, int]:
        """Distinct requests and users of the sample."""
        return len(np.unique(self.request)), len(np.unique(self.user))


def quality_of(page: I64, relevant: I64) -> tuple[float, float, float]:
    """NDCG@10, HR@10 and recall@10 of one page (rows, best first) against relevant rows."""
    rel = np.unique(relevant)
    if not len(rel):
        return 0.0, 0.0, 0.0
    top = np.asarray(page[:K_FINAL], np.int64)
    hit = np.isin(top, rel)
    dcg = float((hit * _DISCOUNT[: len(top)]).sum())
    ideal = float(_DISCOUNT[: min(len(rel), K_FINAL)].sum())
    return dcg / ideal, float(hit.any()), float(hit.sum() / len(rel))


@dataclass
class _Row:
    request: int
    user: int
    surface: str
    group: str
    values: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))


class Recorder:
    """Callable as the evaluation's observer: per request and variant, the quality of the page
    for each group of the request's relevant items; ``outcome`` (the page's expected clicks,
    purchases and revenue, or None without a response model) per request and variant."""

    def __init__(self, created_at: F64 | None) -> None:
        self.created_at = created_at
        self.rows: dict[tuple[int, str], _Row] = {}
        self.variants: list[str] = []

    def __call__(self, ob: Observation, outcome: tuple[float, float, float] | None) -> None:
        lr, ctx, res = ob.request, ob.ctx, ob.result
        if ob.pipeline not in self.variants:
            self.variants.append(ob.pipeline)
        relevant = lr.rows[lr.grades > 0]
        seg = SEGMENTS[int(ctx.segment)]
        page = res.pool.rows[res.ranked.order][:K_FINAL]  # as the evaluation scores it
        groups: list[tuple[str, I64, bool]] = [(seg, relevant, True), (OVERALL, relevant, True)]
        if self.created_at is not None:
            age = lr.ts - self.created_at[relevant]
            for name, limit in AGE_GROUPS:
                young = relevant[(age >= 0) & (age < limit)]
                if len(young):
                    groups.append((name, young, False))
        for name, rel, own_page in groups:
            key = (lr.request, name)
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = _Row(lr.request, lr.user, ctx.surface.value, name)
            for metric, value in zip(QUALITY, quality_of(page, rel), strict=True):
                row.values[metric][ob.pipeline] = value
            if outcome is not None and own_page:
                for metric, value in zip(OUTCOME, outcome, strict=True):
                    row.values[metric][ob.pipeline] = value

    def sample(self) -> Sample:
        rows = list(self.rows.values())
        variants = tuple(self.variants)
        metrics = sorted({m for r in rows for m in r.values})
        values = {
            m: np.array(
                [[r.values.get(m, {}).get(v, np.nan) for v in variants] for r in rows],
                np.float64,
            ).reshape(len(rows), len(variants))
            for m in metrics
        }
        return Sample(
            variants,
            np.array([r.request for r in rows], np.int64),
            np.array([r.user for r in rows], np.int64),
            np.array([r.surface for r in rows], np.str_),
            np.array([r.group for r in rows], np.str_),
            values,
        )
