"""Training-serving skew: the logged serving features against the same features computed again
by the offline code path for the same requests.

For each logged record the request context and the logged candidates (with their source
scores and ranks) are rebuilt against the offline catalog and signals, hydrated by a
:class:`~ltr.features.FeatureHydrator` built the way training builds it, and compared value by
value: equal when both are missing, or when ``|serving - offline| <= atol + rtol * |offline|``.
A feature whose mismatch rate exceeds ``max_mismatch`` is named. What it catches: a feature
computed differently at serving (code, units, a stale or different catalog or signals
snapshot, a restricted field read without its aggregation); what it cannot: context that
serving got wrong before logging it, since the context is taken from the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool
from engine.core.pipeline.context import History, RequestContext
from engine.core.pipeline.stages import FeatureFrame, Hydrator
from engine.core.search import SearchFilter


@dataclass
class _Tally:
    compared: int = 0
    mismatched: int = 0
    abs_diff_sum: float = 0.0
    max_abs_diff: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)


def _history(d: dict[str, Any], catalog: Catalog) -> History:
    keep = [(catalog.row_of.get(i), k, t) for i, k, t in zip(*d.values(), strict=True)]
    keep = [(r, k, t) for r, k, t in keep if r is not None]
    return History(
        np.array([r for r, _, _ in keep], np.int64),
        np.array([k for _, k, _ in keep], np.int8),
        np.array([t for _, _, t in keep], np.float64),
    )


def context_of(rec: dict[str, Any], catalog: Catalog) -> RequestContext:
    c = rec["context"]
    f = dict(c["filters"])
    for key in ("categories", "brands"):
        f[key] = tuple(f[key]) if f[key] is not None else None
    f["exclude_ids"] = frozenset(f["exclude_ids"])
    return RequestContext(
        request_id=rec["request_id"],
        surface=Surface(rec["surface"]),
        now=float(rec["ts"]),
        query=c["query"],
        user_id=c["user_id"],
        session_id=c["session_id"],
        user_history=_history(c["user_history"], catalog),
        session=_history(c["session"], catalog),
        session_queries=tuple(c["session_queries"]),
        filters=SearchFilter(**f),
        page=c["page"],
        page_size=c["page_size"],
    )


def recompute(
    rec: dict[str, Any], hydrator: Hydrator, catalog: Catalog
) -> tuple[FeatureFrame, Any]:
    """The offline frame of the record's logged candidates known to ``catalog``, and the mask
    of those candidates."""
    rows = np.array([catalog.row_of.get(i, -1) for i in rec["items"]], np.int64)
    known = rows >= 0
    pool = CandidatePool(
        rows[known],
        tuple(rec["source_names"]),
        rec["source_scores"][known],
        rec["source_ranks"][known],
    )
    return hydrator.hydrate(context_of(rec, catalog), pool), known


def skew_report(
    records: Iterable[dict[str, Any]],
    hydrator: Hydrator,
    catalog: Catalog,
    *,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    max_mismatch: float = 0.01,
) -> dict[str, Any]:
    tallies: dict[str, _Tally] = {}
    requests = rows = unknown = 0
    for rec in records:
        frame, known = recompute(rec, hydrator, catalog)
        requests += 1
        rows += int(known.sum())
        unknown += int((~known).sum())
        logged = dict(zip(rec["feature_names"], rec["features"][known].T, strict=True))
        for j, name in enumerate(frame.names):
            serving = logged.get(name)
            if serving is None:
                continue  # a feature the serving model did not have
            offline = frame.values[:, j]
            both_nan = np.isnan(serving) & np.isnan(offline)
            with np.errstate(invalid="ignore"):
                diff = np.abs(serving - offline)
                close = diff <= atol + rtol * np.abs(offline)
            bad = ~(both_nan | close)
            t = tallies.setdefault(name, _Tally())
            t.compared += len(offline)
            t.mismatched += int(bad.sum())
            finite = diff[np.isfinite(diff)]
            t.abs_diff_sum += float(finite.sum())
            t.max_abs_diff = max(t.max_abs_diff, float(finite.max(initial=0.0)))
            for i in np.flatnonzero(bad)[: max(0, 3 - len(t.examples))].tolist():
                t.examples.append(
                    {
                        "request_id": rec["request_id"],
                        "item": rec["items"][int(np.flatnonzero(known)[i])],
                        "serving": _num(serving[i]),
                        "offline": _num(offline[i]),
                    }
                )
    features = {
        name: {
            "mismatch_rate": round(t.mismatched / max(1, t.compared), 5),
            "mean_abs_diff": round(t.abs_diff_sum / max(1, t.compared), 6),
            "max_abs_diff": round(t.max_abs_diff, 6),
            "examples": t.examples,
        }
        for name, t in sorted(tallies.items())
    }
    rates = {n: t.mismatched / max(1, t.compared) for n, t in tallies.items()}
    skewed = sorted((n for n, r in rates.items() if r > max_mismatch), key=lambda n: -rates[n])
    return {
        "requests": requests,
        "rows": rows,
        "unknown_items": unknown,
        "max_mismatch": max_mismatch,
        "skewed": skewed,
        "features": features,
    }


def _num(v: float) -> float | None:
    return None if np.isnan(v) else round(float(v), 6)
