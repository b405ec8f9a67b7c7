"""The promotion gate: a new ranker replaces the served one only if, on a fixed evaluation set,
it does not regress beyond a threshold overall, in any user segment, or on new items.

The set is the held-out logged requests after the split, drawn with a fixed seed, so two
candidates meet the same requests. Both rankers run in the same pipeline (sources, cold-start
replay, re-rankers); per surface the groups are ``all``, ``anonymous``, ``weak``, ``heavy`` and
the new-item groups ``fresh`` and ``new_week``. A group regresses when the candidate's NDCG@10
falls below the served one's by more than ``max(abs_floor, max_drop x served)``; groups with
fewer than ``min_requests`` requests are reported but do not block (too noisy to decide on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.settings import Settings
from ltr.artifact import RankerArtifact

GROUPS = ("anonymous", "weak", "heavy", "fresh", "new_week")
SEGMENTS = ("anonymous", "weak", "heavy")
METRIC = "ndcg@10"


@dataclass(frozen=True, slots=True)
class GateRule:
    max_drop: float = 0.03  # relative
    abs_floor: float = 0.002
    min_requests: int = 50


def judge(report: dict[str, Any], rule: GateRule) -> dict[str, Any]:
    """The verdict from an evaluation report holding ``serving`` and ``candidate``."""
    groups: dict[str, dict[str, Any]] = {}
    regressions: list[str] = []
    for surface, segs in report["serving"].items():
        cand = report["candidate"].get(surface, {})
        rows = {g: (segs[g], cand[g]) for g in GROUPS if g in segs and g in cand}
        seg_rows = [rows[g] for g in SEGMENTS if g in rows]
        if seg_rows:
            n = sum(s["requests"] for s, _ in seg_rows)
            rows["all"] = (
                {"requests": n, METRIC: sum(s["requests"] * s[METRIC] for s, _ in seg_rows) / n},
                {"requests": n, METRIC: sum(s["requests"] * c[METRIC] for s, c in seg_rows) / n},
            )
        for g, (s, c) in rows.items():
            allowed = max(rule.abs_floor, rule.max_drop * s[METRIC])
            decides = s["requests"] >= rule.min_requests
            regressed = decides and c[METRIC] < s[METRIC] - allowed
            key = f"{surface}/{g}"
            groups[key] = {
                "requests": s["requests"],
                "serving": round(s[METRIC], 4),
                "candidate": round(c[METRIC], 4),
                "allowed_drop": round(allowed, 4),
                "decides": decides,
                "regressed": regressed,
            }
            if regressed:
                regressions.append(key)
    return {"passed": not regressions, "regressions": regressions, "groups": groups}


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
    from engine.jobs import evaluate

    report = await evaluate(
        settings,
        max_requests=requests,
        seed=seed,
        progress=progress,
        rankers={"serving": serving, "candidate": candidate},
    )
    verdict = judge(report, rule or GateRule())
    return {
        "serving": serving.version,
        "candidate": candidate.version,
        "evaluated_requests": report["requests"],
        **verdict,
    }
