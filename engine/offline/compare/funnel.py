"""The funnel: candidate recall, then the final list, then the business outcome, per variant
and surface, and the flag the comparison exists for: a retrieval change that raises recall but
lowers what the page earns (more relevant candidates that the ranker then orders worse, or
candidates it over-rates and promotes).
"""

from __future__ import annotations

from typing import Any

RECALL_GAIN = 0.01  # absolute candidate-recall gain that counts as "raises recall"
OUTCOME_LOSS = 0.02  # relative outcome loss that counts as "lowers the outcome"


def stages(variant: dict[str, Any], surface: str) -> dict[str, float | None]:
    """One surface's funnel over all its requests (segments pooled, weighted by requests)."""
    q = variant.get("quality", {}).get(surface, {})
    segs = [q[s] for s in ("anonymous", "weak", "heavy") if s in q]
    n = sum(r["requests"] for r in segs)
    out = variant.get("outcome", {}).get(surface, {}).get("all", {})

    def pooled(get: Any) -> float | None:
        vals = [(get(r), r["requests"]) for r in segs]
        vals = [(v, k) for v, k in vals if v is not None]
        return sum(v * k for v, k in vals) / n if vals and n else None

    return {
        "requests": n,
        "candidate_recall": pooled(lambda r: r["source_recall"].get("all_sources")),
        "recall@10": pooled(lambda r: r.get("recall@10")),
        "ndcg@10": pooled(lambda r: r.get("ndcg@10")),
        "purchases_per_request": out.get("purchases_per_request"),
        "revenue_per_request": out.get("revenue_per_request"),
    }


def table(variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    surfaces = sorted({s for v in variants.values() for s in v.get("quality", {})})
    return {name: {s: stages(v, s) for s in surfaces} for name, v in variants.items()}


def flags(variants: dict[str, dict[str, Any]], key: str = "purchases_per_request") -> list[str]:
    """Every ordered pair (from, to) and surface where ``to`` retrieves more of the relevant
    items than ``from`` but its pages earn less."""
    t = table(variants)
    out = []
    for a, fa in t.items():
        for b, fb in t.items():
            if a == b:
                continue
            for surface, sa in fa.items():
                sb = fb[surface]
                ra, rb = sa["candidate_recall"], sb["candidate_recall"]
                oa, ob = sa[key], sb[key]
                if None in (ra, rb, oa, ob) or not oa:
                    continue
                assert ra is not None and rb is not None and oa is not None and ob is not None
                if rb - ra >= RECALL_GAIN and (ob - oa) / oa <= -OUTCOME_LOSS:
                    out.append(
                        f"{surface}: {a} -> {b} raises candidate recall {ra:.3f} -> {rb:.3f} "
                        f"but lowers {key.replace('_', ' ')} {oa:.4f} -> {ob:.4f} "
                        f"({(ob - oa) / oa:+.1%})"
                    )
    return out
