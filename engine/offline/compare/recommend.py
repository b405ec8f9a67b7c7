"""The recommendation, computed from the measured figures against the product's constraints.

1. A variant is *feasible* when its p99 latency, its projected cost per request and its
   new-item freshness on every surface meet the constraints.
2. Among feasible variants the objective (:mod:`engine.offline.compare.objective`) is the
   expected business outcome per request where the data has a hidden response model (the
   synthetic world), else the quality of the final list (``quality_objective``, NDCG@10),
   weighted by traffic with ``weak_share`` (the product's 35%) for anonymous and weak-history
   users.
3. The *leader* is the feasible variant with the best objective. It is chosen only when it is
   significantly ahead of every other feasible variant: the paired bootstrap interval (over
   users, ``replicates`` draws, ``confidence`` level) of each difference excludes 0. Otherwise
   the report says it is not significantly ahead, with the interval and the number of
   requests, and among the variants not significantly worse than the leader the one with
   fewer moving parts (models, jobs, index types, refresh paths) wins.

Every step leaves a reason, with its figures, in the output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.offline.compare import objective as obj
from engine.offline.compare.bootstrap import REPLICATES, draw, identity, interval, means
from engine.offline.compare.paired import Sample

WEAK_SEGMENTS = obj.WEAK_SEGMENTS
MIN_SEGMENT_REQUESTS = 30  # a segment note needs at least this many requests


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    p99_ms: float = Field(150.0, gt=0, description="end-to-end p99 budget")
    usd_per_request: float = Field(0.001, gt=0, description="serving cost budget")
    freshness_s: float = Field(600.0, gt=0, description="new item eligible within")
    weak_share: float = Field(0.35, ge=0, le=1, description="anonymous + weak-history traffic")
    objective: str = Field("purchases", pattern="^(purchases|revenue|clicks)$")
    quality_objective: str = Field(
        "ndcg@10",
        pattern="^(ndcg|hr|recall)@10$",
        description="the objective where the data has no response model (imported data)",
    )
    confidence: float = Field(0.95, gt=0.5, lt=1, description="of the bootstrap intervals")
    replicates: int = Field(REPLICATES, ge=100, description="paired bootstrap draws of users")


def objective(variant: dict[str, Any], c: Constraints) -> float | None:
    """Traffic-weighted objective of one variant from its figures (outcome if it has any)."""
    key, table, _ = obj.metric(bool(variant.get("outcome")), c.objective, c.quality_objective)
    return obj.from_figures(variant, key, table, c.weak_share)


def violations(variant: dict[str, Any], c: Constraints) -> list[str]:
    out = []
    p99 = variant["latency"]["end_to_end"].get("p99_ms")
    if p99 is None or p99 > c.p99_ms:
        out.append(f"p99 {p99} ms > {c.p99_ms:g} ms")
    cost = variant["cost"]["usd_per_request"]
    if cost > c.usd_per_request:
        out.append(f"cost ${cost:.6f}/request > ${c.usd_per_request:g}")
    for surface, f in variant["freshness"].items():
        if surface == "behaviour_only":
            continue
        if f["p99_s"] is None:
            out.append(f"{surface}: no source can propose a new item")
        elif f["p99_s"] > c.freshness_s:
            out.append(f"{surface}: new items eligible after {f['p99_s']:g} s > {c.freshness_s:g}")
    return out


def _ci(lo_hi: Any) -> list[float]:
    return [round(float(x), 5) for x in lo_hi]


def _fmt_ci(ci: list[float], level: float) -> str:
    return f"{level:.0%} CI [{ci[0]:+.4f}, {ci[1]:+.4f}]"


def recommend(
    variants: dict[str, dict[str, Any]], c: Constraints, sample: Sample | None = None
) -> dict[str, Any]:
    """The choice among ``variants`` with its reasons; ``sample`` (the per-request figures of
    every variant, :class:`~engine.offline.compare.paired.Sample`) gives the significance of
    the leader's lead. Without it the leader wins and the reasons say significance was not
    tested."""
    reasons: list[str] = []
    outcome = sample.has_outcome if sample is not None else obj.has_outcome(variants)
    key, table, label = obj.metric(outcome, c.objective, c.quality_objective)
    figures: dict[str, float] = {}
    for name, v in variants.items():
        bad = violations(v, c)
        value = obj.from_figures(v, key, table, c.weak_share)
        if bad:
            reasons.append(f"{name} is ruled out: " + "; ".join(bad))
        elif value is None:
            reasons.append(f"{name} is ruled out: no evaluated requests")
        else:
            figures[name] = value
    base = {"objective_metric": key, "constraints": c.model_dump()}
    if not figures:
        return {
            **base,
            "choice": None,
            "leader": None,
            "significant": None,
            "reasons": [*reasons, "no variant meets every constraint"],
            "objective": {},
        }
    feasible = list(figures)
    if sample is not None and all(n in sample.variants for n in feasible):
        cols = [sample.variants.index(n) for n in feasible]
        draws = draw(sample.user, replicates=c.replicates)
        point = obj.replicates(sample, identity(draws), key, c.weak_share)[0, cols]
        reps = obj.replicates(sample, draws, key, c.weak_share)[:, cols]
        scored = dict(zip(feasible, (float(x) for x in point), strict=True))
    else:
        reps, scored = None, figures
    leader = max(scored, key=lambda n: scored[n])
    best = scored[leader]
    out: dict[str, Any] = {**base, "leader": leader}
    out["objective"] = {n: round(o, 5) for n, o in scored.items()}
    w = f"traffic-weighted, {c.weak_share:.0%} anonymous or weak-history"
    if reps is None:
        for name, value in sorted(scored.items(), key=lambda kv: -kv[1]):
            rel = (value - best) / best if best else 0.0
            reasons.append(f"{name}: {value:.4f} {label} ({w}), {rel:+.1%} against the leader")
        reasons.append(
            f"{leader} has the best objective among the feasible variants (no per-request "
            "figures: significance not tested)"
        )
        choice, out["significant"] = leader, None
    else:
        assert sample is not None
        n_req, n_users = sample.counts()
        out |= {"requests": n_req, "users": n_users, "replicates": c.replicates}
        where = f"{n_req} requests from {n_users} users, {c.replicates} paired bootstrap draws"
        choice = _significance(variants, scored, reps, leader, (label, w, where), c, out, reasons)
        reasons.extend(_segment_notes(variants, choice, key, table, label, c, sample))
    if reps is None:
        reasons.extend(_segment_notes(variants, choice, key, table, label, c, None))
    reasons.extend(_exposure_notes(variants, choice))
    return {**out, "choice": choice, "reasons": reasons}


def _significance(
    variants: dict[str, dict[str, Any]],
    scored: dict[str, float],
    reps: np.ndarray,
    leader: str,
    words: tuple[str, str, str],
    c: Constraints,
    out: dict[str, Any],
    reasons: list[str],
) -> str:
    """The leader's lead against each feasible variant (``scored``, the columns of ``reps``),
    its interval, and the choice. ``words``: the objective's label, the weighting, the
    sample's size."""
    label, weighting, where = words
    feasible = list(scored)
    lead = feasible.index(leader)
    best = scored[leader]
    level = c.confidence
    out["objective_ci95"] = {n: _ci(interval(reps[:, j], level)) for j, n in enumerate(feasible)}
    vs: dict[str, Any] = {}
    for j, name in enumerate(feasible):
        if name == leader:
            continue
        ci = _ci(interval(reps[:, j] - reps[:, lead], level))
        vs[name] = {
            "diff": round(scored[name] - best, 5),
            "ci95": ci,
            "significant": bool(ci[1] < 0 or ci[0] > 0),
        }
    out["vs_leader"] = vs
    for name, value in sorted(scored.items(), key=lambda kv: -kv[1]):
        own = _fmt_ci(out["objective_ci95"][name], level).replace("+", "")
        line = f"{name}: {value:.4f} {label} ({weighting}; {own})"
        if name != leader:
            d = vs[name]
            rel = d["diff"] / best if best else 0.0
            line += (
                f", {d['diff']:+.4f} ({rel:+.1%}) against {leader}, "
                f"{_fmt_ci(d['ci95'], level)} of the difference"
            )
        reasons.append(line)
    close = [leader, *(n for n, d in vs.items() if not d["significant"])]
    if len(close) == 1:
        out["significant"] = True
        reasons.append(
            f"{leader} is significantly ahead of every other feasible variant (the {level:.0%} "
            f"interval of each difference excludes 0; {where})"
            if vs
            else f"{leader} is the only feasible variant"
        )
        return leader
    out["significant"] = False
    parts = {n: variants[n]["maintainability"]["moving_parts"] for n in close}
    choice = min(close, key=lambda n: (parts[n], -scored[n]))
    behind = ", ".join(
        f"{n} ({vs[n]['diff']:+.4f}, {_fmt_ci(vs[n]['ci95'], level)})" for n in close[1:]
    )
    reasons.append(
        f"{leader} is not significantly ahead of {behind} on {label} ({where}); among the "
        f"variants not significantly worse, {choice} has the fewest moving parts "
        f"({parts[choice]}" + (")" if choice != leader else ", and the best objective)")
    )
    return choice


def _exposure_notes(variants: dict[str, dict[str, Any]], choice: str) -> list[str]:
    """New items eligible is the constraint; new items *shown* is what makes them sell: say
    when another variant shows many more of them within an hour of their creation."""
    mine = variants[choice].get("new_item_exposure")
    if mine is None:
        return []
    notes = []
    for name, v in variants.items():
        other = v.get("new_item_exposure")
        if name != choice and other is not None and other > 1.5 * mine + 0.01:
            notes.append(
                f"new items: {name} shows {other:.0%} of them within an hour of creation, "
                f"{choice} {mine:.0%}: its feed lacks a source for items nobody has seen"
                if "new_arrivals" not in variants[choice].get("sources", [])
                else f"new items: {name} shows {other:.0%} within an hour, {choice} {mine:.0%}"
            )
    return notes


def _segment_notes(
    variants: dict[str, dict[str, Any]],
    choice: str,
    key: str,
    table: str,
    label: str,
    c: Constraints,
    sample: Sample | None,
) -> list[str]:
    """Where another variant does better by more than 10% for one surface and segment (and,
    with a sample, significantly): the case for running it beside the choice there (e.g.
    two-tower for anonymous feed traffic)."""
    notes = []
    chosen = variants[choice].get(table, {})
    draws = draw(sample.user, replicates=c.replicates) if sample is not None else None
    for surface, segs in chosen.items():
        for seg, row in segs.items():
            if seg not in (*WEAK_SEGMENTS, "heavy") or row["requests"] < MIN_SEGMENT_REQUESTS:
                continue
            for name, v in variants.items():
                other = v.get(table, {}).get(surface, {}).get(seg)
                if name == choice or other is None or row[key] <= 0:
                    continue
                gain = other[key] / row[key] - 1
                if gain <= 0.1:
                    continue
                note = (
                    f"{surface}/{seg}: {name} {gain:+.0%} {label} over {choice} "
                    f"({other[key]:.4f} vs {row[key]:.4f}, {row['requests']} requests"
                )
                if sample is not None and draws is not None and name in sample.variants:
                    cols = [sample.variants.index(choice), sample.variants.index(name)]
                    m = means(draws, sample.rows(surface, (seg,)), sample.values[key][:, cols])
                    ci = _ci(interval(m[:, 1] - m[:, 0], c.confidence))
                    if not ci[0] > 0:
                        continue
                    note += f", {_fmt_ci(ci, c.confidence)} of the difference"
                notes.append(note + ")")
    return notes
