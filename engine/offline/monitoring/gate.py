"""The promotion gate: a new ranker (or two-tower model) replaces the served one only if, on a
fixed evaluation set, it does not regress beyond a threshold overall, in any user segment, or
on new items.

The set is the held-out logged requests after the split, drawn with a fixed seed, so two
candidates meet the same requests. Both rankers run in the same pipeline (sources, cold-start
replay, re-rankers); per surface the groups are ``all``, ``anonymous``, ``weak``, ``heavy`` and
the new-item groups ``fresh`` and ``new_week``. A group regresses when the candidate's NDCG@10
falls below the served one's by more than ``max(abs_floor, max_drop x served)`` *and* the drop
is significant: the two rankers meet the same requests, so the per-request differences are
paired, and the upper end of a bootstrap 95% interval of their mean must be below zero (a
retrain that only differs by its seed moves the mean by several percent on a few hundred
requests). Groups with fewer than ``min_requests`` requests are reported but do not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.core.settings import Settings
from engine.offline.evaluate import evaluate
from ltr.artifact import RankerArtifact

GROUPS = ("anonymous", "weak", "heavy", "fresh", "new_week")
SEGMENTS = ("anonymous", "weak", "heavy")
METRIC = "ndcg@10"
PER_REQUEST = "ndcg@10_per_request"


@dataclass(frozen=True, slots=True)
class GateRule:
    max_drop: float = 0.03  # relative
    abs_floor: float = 0.002
    min_requests: int = 50
    resamples: int = 2000


def paired_interval(
    served: npt.ArrayLike, candidate: npt.ArrayLike, resamples: int, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap 95% interval of the mean per-request difference (candidate - served)."""
    d = np.asarray(candidate, np.float64) - np.asarray(served, np.float64)
    if len(d) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (resamples, len(d)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def judge(report: dict[str, Any], rule: GateRule) -> dict[str, Any]:
    """The verdict from an evaluation report holding ``serving`` and ``candidate``."""
    groups: dict[str, dict[str, Any]] = {}
    regressions: list[str] = []
    for surface, segs in report["serving"].items():
        cand = report["candidate"].get(surface, {})
        rows = {g: (segs[g], cand[g]) for g in GROUPS if g in segs and g in cand}
        seg_rows = [rows[g] for g in SEGMENTS if g in rows]
        if seg_rows:
            rows["all"] = (_pooled([s for s, _ in seg_rows]), _pooled([c for _, c in seg_rows]))
        for g, (s, c) in rows.items():
            allowed = max(rule.abs_floor, rule.max_drop * s[METRIC])
            decides = s["requests"] >= rule.min_requests
            beyond = c[METRIC] < s[METRIC] - allowed
            key = f"{surface}/{g}"
            groups[key] = {
                "requests": s["requests"],
                "serving": round(s[METRIC], 4),
                "candidate": round(c[METRIC], 4),
                "allowed_drop": round(allowed, 4),
                "decides": decides,
            }
            significant = True  # without per-request figures, the threshold alone decides
            if PER_REQUEST in s and PER_REQUEST in c:
                lo, hi = paired_interval(s[PER_REQUEST], c[PER_REQUEST], rule.resamples)
                significant = hi < 0
                groups[key]["difference_95"] = [round(lo, 4), round(hi, 4)]
            regressed = decides and beyond and significant
            groups[key]["regressed"] = regressed
            if regressed:
                regressions.append(key)
    return {"passed": not regressions, "regressions": regressions, "groups": groups}


def _pooled(parts: list[dict[str, Any]]) -> dict[str, Any]:
    n = sum(p["requests"] for p in parts)
    out: dict[str, Any] = {
        "requests": n,
        METRIC: sum(p["requests"] * p[METRIC] for p in parts) / max(1, n),
    }
    if all(PER_REQUEST in p for p in parts):
        out[PER_REQUEST] = np.concatenate([np.asarray(p[PER_REQUEST]) for p in parts])
    return out


async def gate(
    settings: Settings,
    candidate: RankerArtifact,
    serving: RankerArtifact,
    *,
    rule: GateRule | None = None,
    requests: int = 1500,
    seed: int = 12345,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate both rankers on the fixed held-out set and judge the candidate."""
    verdict = await _judged(
        settings,
        rule,
        requests,
        seed,
        progress,
        rankers={"serving": serving, "candidate": candidate},
    )
    return {"serving": serving.version, "candidate": candidate.version, **verdict}


async def gate_towers(
    settings: Settings,
    candidate: str,
    serving: str,
    *,
    rule: GateRule | None = None,
    requests: int = 1500,
    seed: int = 12345,
    progress: bool = False,
) -> dict[str, Any]:
    """The same for two towers versions: the whole pipeline (the served ranker) with each
    model's item vectors searched exactly in memory, on the same fixed set."""
    verdict = await _judged(
        settings,
        rule,
        requests,
        seed,
        progress,
        towers={"serving": serving, "candidate": candidate},
    )
    return {"serving": serving, "candidate": candidate, **verdict}


async def _judged(
    settings: Settings,
    rule: GateRule | None,
    requests: int,
    seed: int,
    progress: bool,
    **variants: Any,
) -> dict[str, Any]:

    report = await evaluate(
        settings, max_requests=requests, seed=seed, progress=progress, per_request=True, **variants
    )
    return {"evaluated_requests": report["requests"], **judge(report, rule or GateRule())}
