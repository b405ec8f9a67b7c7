"""What ``shopnow compare`` records per held-out request beyond the evaluation's own metrics:
stage latencies and CPU time, the page's expected business outcome under the marketplace's
hidden response model, which sources the final slots came from, and the ranker's scores beside
the true relevance of the candidates each source proposed (its calibration per source).

Without a response model (imported data has no hidden truth) the outcome and the calibration
are not recorded; the rest is. A :class:`~engine.offline.compare.paired.Recorder` given sees
every request with its outcome, for the paired confidence intervals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.offline.compare.paired import Recorder
from engine.offline.evaluation.synthetic import SEGMENTS, Observation
from synth.outcome import ResponseModel

CALIBRATION_TOP = 100  # candidates per request whose score and true relevance are kept
N_BINS = 10


@dataclass
class _Run:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    surface_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    surface_cpu_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcome: dict[tuple[str, str], list[tuple[float, float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    slots: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    n_slots: int = 0
    scores: list[npt.NDArray[np.float64]] = field(default_factory=list)
    truth: list[npt.NDArray[np.float64]] = field(default_factory=list)
    proposed: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    source_names: tuple[str, ...] = ()
    pages: dict[int, npt.NDArray[np.int64]] = field(default_factory=dict)  # request -> rows
    degraded: dict[int, bool] = field(default_factory=dict)
    latency_ms: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Served:
    """A held-out request as the online simulation needs it."""

    request: int
    user: int
    segment: str
    surface: str


class Collector:
    """Callable as the evaluation's observer; :meth:`summary` aggregates per pipeline."""

    def __init__(self, model: ResponseModel | None, recorder: Recorder | None = None) -> None:
        self.model = model
        self.recorder = recorder
        self.runs: dict[str, _Run] = defaultdict(_Run)
        self.served: dict[int, Served] = {}  # request id -> who asked, where

    def __call__(self, ob: Observation) -> None:
        run = self.runs[ob.pipeline]
        res, lr = ob.result, ob.request
        run.wall_ms.append(ob.wall_ms)
        run.cpu_ms.append(ob.cpu_ms)
        run.surface_ms[ob.ctx.surface.value].append(ob.wall_ms)
        run.surface_cpu_ms[ob.ctx.surface.value].append(ob.cpu_ms)
        for t in res.timings:
            run.stage_ms[t.stage].append(t.ms)
        order = res.ranked.order
        page = order[: ob.ctx.page_size]
        rows = res.pool.rows[page]
        seg = SEGMENTS[int(ob.ctx.segment)]
        self.served[lr.request] = Served(lr.request, lr.user, seg, ob.ctx.surface.value)
        run.pages[lr.request] = rows
        run.degraded[lr.request] = bool(res.degraded)
        run.latency_ms[lr.request] = ob.wall_ms
        outcome = None
        if self.model is not None:
            out = self.model.page(lr.request, lr.user, rows)
            outcome = (out.clicks, out.purchases, out.revenue)
            for key in ((ob.ctx.surface.value, seg), (ob.ctx.surface.value, "all")):
                run.outcome[key].append(outcome)
        if self.recorder is not None:
            self.recorder(ob, outcome)
        proposed = ~np.isnan(res.pool.source_scores)
        run.source_names = res.pool.source_names
        for j, name in enumerate(res.pool.source_names):
            run.slots[name] += float(proposed[page, j].sum())
        run.n_slots += len(page)
        top = order[:CALIBRATION_TOP]
        if len(top) and self.model is not None:
            run.scores.append(np.asarray(res.ranked.scores, np.float64)[top])
            run.truth.append(self.model.click_probability(lr.request, lr.user, res.pool.rows[top]))
            run.proposed.append(proposed[top])

    def summary(self) -> dict[str, Any]:
        return {name: _summarise(run) for name, run in sorted(self.runs.items())}


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs, np.float64)
    if not len(a):
        return {"n": 0}
    return {
        "n": len(a),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


def _summarise(run: _Run) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    for (surface, seg), vals in sorted(run.outcome.items()):
        a = np.asarray(vals, np.float64)
        outcome.setdefault(surface, {})[seg] = {
            "requests": len(a),
            "clicks_per_request": round(float(a[:, 0].mean()), 5),
            "purchases_per_request": round(float(a[:, 1].mean()), 5),
            "revenue_per_request": round(float(a[:, 2].mean()), 4),
        }
    return {
        "latency": {
            "end_to_end": _pct(run.wall_ms),
            "by_surface": {s: _pct(v) for s, v in sorted(run.surface_ms.items())},
            "stages": {s: _pct(v) for s, v in sorted(run.stage_ms.items())},
        },
        "cpu_ms_per_request": round(float(np.mean(run.cpu_ms)), 3) if run.cpu_ms else None,
        "cpu_ms_by_surface": {
            s: round(float(np.mean(v)), 3) for s, v in sorted(run.surface_cpu_ms.items())
        },
        "outcome": outcome,
        "slot_share": {
            s: round(v / max(run.n_slots, 1), 4) for s, v in sorted(run.slots.items()) if v > 0
        },
        "calibration": calibration(run),
    }


def calibration(run: _Run) -> dict[str, Any]:
    """Per source, the candidates' true relevance (click probability at the top position)
    against what the ranker's score predicts for them: scores are binned into deciles over
    all of the variant's top candidates and each bin predicts its mean true relevance. A ratio
    below 1 means the ranker rates that source's candidates above what they are worth."""
    if not run.scores:
        return {}
    score = np.concatenate(run.scores)
    truth = np.concatenate(run.truth)
    proposed = np.concatenate(run.proposed)
    finite = np.isfinite(score)
    score, truth, proposed = score[finite], truth[finite], proposed[finite]
    if not len(score):
        return {}
    edges = np.unique(np.quantile(score, np.linspace(0, 1, N_BINS + 1)[1:-1]))
    bins = np.searchsorted(edges, score, side="right")
    mean_truth = np.bincount(bins, weights=truth) / np.maximum(np.bincount(bins), 1)
    predicted = mean_truth[bins]
    out: dict[str, Any] = {}
    for j, name in enumerate(run.source_names):
        m = proposed[:, j]
        if m.sum() < 20:
            continue
        out[name] = {
            "candidates": int(m.sum()),
            "true_relevance": round(float(truth[m].mean()), 5),
            "predicted_relevance": round(float(predicted[m].mean()), 5),
            "observed_over_predicted": round(float(truth[m].mean() / predicted[m].mean()), 3),
        }
    return out
