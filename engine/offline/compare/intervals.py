"""Paired bootstrap intervals on every quality and outcome figure of the report.

Each per-surface, per-group cell of ``quality`` and ``outcome`` gets ``"ci95"``: the interval
of every metric it reports, and ``"vs_leader"``: the difference to the leader of the
recommendation on the same requests, with its interval (the leader's own cell has none). The
draws of users are the recommendation's (same seed, same replicates)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.offline.compare.bootstrap import Draws, draw, interval, means
from engine.offline.compare.paired import OUTCOME, QUALITY, Sample

TABLES = (("quality", QUALITY), ("outcome", OUTCOME))


def _round(x: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), 5) for v in x]


def annotate(
    variants: dict[str, dict[str, Any]],
    sample: Sample,
    leader: str | None,
    *,
    replicates: int,
    confidence: float,
) -> None:
    """Add the intervals to ``variants`` in place (see the module docstring)."""
    draws = draw(sample.user, replicates=replicates)
    lead = sample.variants.index(leader) if leader in sample.variants else None
    for table, metrics in TABLES:
        for metric in metrics:
            if metric not in sample.values:
                continue
            _annotate_metric(variants, sample, draws, table, metric, lead, confidence)


def _annotate_metric(
    variants: dict[str, dict[str, Any]],
    sample: Sample,
    draws: Draws,
    table: str,
    metric: str,
    lead: int | None,
    confidence: float,
) -> None:
    values = sample.values[metric]
    cells = {(str(s), str(g)) for s, g in zip(sample.surface, sample.group, strict=True)}
    for surface, group in sorted(cells):
        reps = means(draws, sample.rows(surface, (group,)), values)
        own = interval(reps, confidence)
        diff = interval(reps - reps[:, [lead]], confidence) if lead is not None else None
        for j, name in enumerate(sample.variants):
            cell = variants.get(name, {}).get(table, {}).get(surface, {}).get(group)
            if cell is None:
                continue
            cell.setdefault("ci95", {})[metric] = _round(own[:, j])
            if diff is not None and j != lead:
                cell.setdefault("vs_leader", {})[metric] = _round(diff[:, j])
