"""How far each pipeline is above each baseline of the same run: the relative NDCG@10 lift per
surface and segment, with a paired bootstrap 95% interval over the requests (the same requests
are asked of every pipeline, so each resample draws the same requests for both)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from engine.offline.evaluation.synthetic import K_FINAL

PER_REQUEST = f"ndcg@{K_FINAL}_per_request"
BASELINE = "baseline:"


def relative_lift(
    ours: npt.ArrayLike, base: npt.ArrayLike, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """``mean(ours) / mean(base) - 1`` and its bootstrap 95% interval over paired requests
    (NaN where the baseline's mean is 0: no lift is defined over nothing)."""
    x, y = np.asarray(ours, np.float64), np.asarray(base, np.float64)
    if len(x) != len(y):
        raise ValueError(f"unpaired figures: {len(x)} against {len(y)} requests")
    if len(x) == 0 or y.mean() <= 0:
        return float("nan"), float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(x), (resamples, len(x)))
    num, den = x[idx].mean(axis=1), y[idx].mean(axis=1)
    ratio = np.divide(num, den, out=np.full(resamples, np.nan), where=den > 0) - 1.0
    lo, hi = np.nanquantile(ratio, [0.025, 0.975])
    return float(x.mean() / y.mean() - 1.0), float(lo), float(hi)


def lifts(report: dict[str, Any], resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """``{"<pipeline> / <baseline>": {surface: {segment: {"lift", "lift_95", "requests"}}}}``
    for every pipeline and ``baseline:*`` entry of an evaluation report whose cells carry the
    per-request NDCG@10 (``evaluate_requests(per_request=True)``)."""
    names = [k for k, v in report.items() if isinstance(v, dict) and _has_cells(v)]
    baselines = [n for n in names if n.startswith(BASELINE)]
    out: dict[str, Any] = {}
    for name in (n for n in names if not n.startswith(BASELINE)):
        for base in baselines:
            pair: dict[str, Any] = {}
            for surface, segments in report[name].items():
                for segment, cell in segments.items():
                    other = report[base].get(surface, {}).get(segment)
                    if other is None or PER_REQUEST not in cell or PER_REQUEST not in other:
                        continue
                    lift, lo, hi = relative_lift(
                        cell[PER_REQUEST], other[PER_REQUEST], resamples, seed
                    )
                    pair.setdefault(surface, {})[segment] = {
                        "lift": round(lift, 4),
                        "lift_95": [round(lo, 4), round(hi, 4)],
                        "requests": len(cell[PER_REQUEST]),
                    }
            if pair:
                out[f"{name} / {base}"] = pair
    return out


def drop_per_request(report: dict[str, Any]) -> None:
    """Remove the per-request lists from the report's cells (kept only when asked for)."""
    for value in report.values():
        if isinstance(value, dict) and _has_cells(value):
            for segments in value.values():
                for cell in segments.values():
                    cell.pop(PER_REQUEST, None)


def _has_cells(entry: dict[str, Any]) -> bool:
    """Whether ``entry`` is a pipeline's ``{surface: {segment: cell}}``."""
    cells = (c for segs in entry.values() if isinstance(segs, dict) for c in segs.values())
    return any(isinstance(c, dict) and "requests" in c for c in cells)
