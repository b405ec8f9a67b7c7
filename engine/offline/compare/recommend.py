"""The recommendation, computed from the measured figures against the product's constraints.

1. A variant is *feasible* when its p99 latency, its projected cost per request and its
   new-item freshness on every surface meet the constraints.
2. Among feasible variants the objective is the expected business outcome per request (the
   hidden response model's purchases, or revenue), weighted by traffic: surfaces by their
   share of requests, segments so that anonymous and weak-history users carry
   ``weak_share`` of the weight (the product's 35%), heavy users the rest.
3. Variants within ``tie_tolerance`` of the best objective are equivalent; among them the one
   with fewer moving parts (models, jobs, index types, refresh paths) wins.

Every step leaves a reason, with its figures, in the output.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

WEAK_SEGMENTS = ("anonymous", "weak")


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    p99_ms: float = Field(150.0, gt=0, description="end-to-end p99 budget")
    usd_per_request: float = Field(0.001, gt=0, description="serving cost budget")
    freshness_s: float = Field(600.0, gt=0, description="new item eligible within")
    weak_share: float = Field(0.35, ge=0, le=1, description="anonymous + weak-history traffic")
    objective: str = Field("purchases", pattern="^(purchases|revenue|clicks)$")
    tie_tolerance: float = Field(0.02, ge=0, description="relative objective difference ignored")


def objective(variant: dict[str, Any], c: Constraints) -> float | None:
    """Traffic-weighted expected outcome per request (see the module docstring)."""
    key = f"{c.objective}_per_request"
    outcome = variant.get("outcome", {})
    total_requests = sum(s.get("all", {}).get("requests", 0) for s in outcome.values())
    if not total_requests:
        return None
    value = 0.0
    for surface in outcome.values():
        share = surface.get("all", {}).get("requests", 0) / total_requests
        weak = [surface[s] for s in WEAK_SEGMENTS if s in surface]
        n_weak = sum(r["requests"] for r in weak)
        weak_value = sum(r[key] * r["requests"] for r in weak) / n_weak if n_weak else None
        heavy = surface.get("heavy", {}).get(key)
        if weak_value is None or heavy is None:
            value += share * surface.get("all", {}).get(key, 0.0)
        else:
            value += share * (c.weak_share * weak_value + (1 - c.weak_share) * heavy)
    return value


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


def recommend(variants: dict[str, dict[str, Any]], c: Constraints) -> dict[str, Any]:
    reasons: list[str] = []
    scored: dict[str, float] = {}
    for name, v in variants.items():
        bad = violations(v, c)
        obj = objective(v, c)
        if bad:
            reasons.append(f"{name} is ruled out: " + "; ".join(bad))
        elif obj is None:
            reasons.append(f"{name} is ruled out: no evaluated requests")
        else:
            scored[name] = obj
    if not scored:
        return {
            "choice": None,
            "reasons": [*reasons, "no variant meets every constraint"],
            "objective": {},
            "constraints": c.model_dump(),
        }
    best = max(scored.values())
    for name, obj in sorted(scored.items(), key=lambda kv: -kv[1]):
        rel = (obj - best) / best if best else 0.0
        reasons.append(
            f"{name}: {obj:.4f} expected {c.objective}/request (traffic-weighted, "
            f"{c.weak_share:.0%} anonymous or weak-history), {rel:+.1%} against the best"
        )
    tied = [n for n, o in scored.items() if best - o <= c.tie_tolerance * abs(best)]
    parts = {n: variants[n]["maintainability"]["moving_parts"] for n in tied}
    choice = min(tied, key=lambda n: (parts[n], -scored[n]))
    if len(tied) > 1:
        reasons.append(
            f"{', '.join(sorted(tied))} are within {c.tie_tolerance:.0%} of each other: "
            f"{choice} has the fewest moving parts ({parts[choice]})"
        )
    else:
        reasons.append(f"{choice} has the best objective among the feasible variants")
    reasons.extend(_segment_notes(variants, choice, c))
    reasons.extend(_exposure_notes(variants, choice))
    return {
        "choice": choice,
        "reasons": reasons,
        "objective": {n: round(o, 5) for n, o in scored.items()},
        "constraints": c.model_dump(),
    }


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


def _segment_notes(variants: dict[str, dict[str, Any]], choice: str, c: Constraints) -> list[str]:
    """Where another variant does clearly better for one surface and segment: the case for
    running it beside the choice there (e.g. two-tower for anonymous feed traffic)."""
    key = f"{c.objective}_per_request"
    notes = []
    chosen = variants[choice].get("outcome", {})
    for surface, segs in chosen.items():
        for seg, row in segs.items():
            if seg == "all" or row["requests"] < 30:
                continue
            for name, v in variants.items():
                other = v.get("outcome", {}).get(surface, {}).get(seg)
                if name == choice or other is None or row[key] <= 0:
                    continue
                gain = other[key] / row[key] - 1
                if gain > 0.1:
                    notes.append(
                        f"{surface}/{seg}: {name} earns {gain:+.0%} {c.objective} over {choice} "
                        f"({other[key]:.4f} vs {row[key]:.4f}, {row['requests']} requests)"
                    )
    return notes
