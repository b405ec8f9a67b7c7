"""The objective the recommendation ranks feasible variants by, from the report's figures or, with
paired bootstrap replicates, from the per-request sample.

It is the expected business outcome per request (the hidden response model's purchases,
revenue or clicks) when the data has a response model, else the quality of the final list
(NDCG@10 by default): imported data has no outcome to simulate. Either is weighted by
traffic: surfaces by their share of requests, segments so that anonymous and weak-history
users carry ``weak_share`` of the weight, heavy users the rest (a surface without both falls
back to its mean over every request)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.arrays import F64
from engine.offline.compare.bootstrap import Draws, means, sums
from engine.offline.compare.paired import Sample
from engine.offline.evaluation.synthetic import OVERALL

WEAK_SEGMENTS = ("anonymous", "weak")
HEAVY_SEGMENTS = ("heavy",)


def has_outcome(variants: dict[str, dict[str, Any]]) -> bool:
    return any(v.get("outcome") for v in variants.values())


def metric(outcome: bool, objective: str, quality_objective: str) -> tuple[str, str, str]:
    """(the figure's key, its table, a label for the reasons)."""
    if outcome:
        return f"{objective}_per_request", "outcome", f"expected {objective}/request"
    return quality_objective, "quality", quality_objective.upper()


def from_figures(variant: dict[str, Any], key: str, table: str, weak_share: float) -> float | None:
    """Traffic-weighted objective from the per-surface, per-segment figures."""
    cells = variant.get(table, {})
    total_requests = sum(s.get(OVERALL, {}).get("requests", 0) for s in cells.values())
    if not total_requests:
        return None
    value = 0.0
    for surface in cells.values():
        share = surface.get(OVERALL, {}).get("requests", 0) / total_requests
        weak = [surface[s] for s in WEAK_SEGMENTS if s in surface]
        n_weak = sum(r["requests"] for r in weak)
        weak_value = sum(r[key] * r["requests"] for r in weak) / n_weak if n_weak else None
        heavy = surface.get("heavy", {}).get(key)
        if weak_value is None or heavy is None:
            value += share * surface.get(OVERALL, {}).get(key, 0.0)
        else:
            value += share * (weak_share * weak_value + (1 - weak_share) * heavy)
    return value


def replicates(sample: Sample, draws: Draws, key: str, weak_share: float) -> F64:
    """``[replicates, variants]``: the objective recomputed on each draw of users (with
    :func:`engine.offline.compare.bootstrap.identity`, the point estimate)."""
    values = sample.values[key]
    value = np.zeros((draws.replicates, values.shape[1]))
    total = np.zeros(draws.replicates)
    for surface in np.unique(sample.surface):
        summed, n = sums(draws, sample.rows(str(surface), (OVERALL,)), values)
        with np.errstate(invalid="ignore", divide="ignore"):
            overall = summed / np.maximum(n, 1.0)[:, None]
        weak = means(draws, sample.rows(str(surface), WEAK_SEGMENTS), values)
        heavy = means(draws, sample.rows(str(surface), HEAVY_SEGMENTS), values)
        mixed = weak_share * weak + (1 - weak_share) * heavy
        value += n[:, None] * np.where(np.isnan(mixed), overall, mixed)
        total += n
    with np.errstate(invalid="ignore", divide="ignore"):
        return value / np.where(total > 0, total, np.nan)[:, None]
