"""Hand-built variant figures in the shape ``run_offline`` + ``assemble`` produce."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.offline.compare.paired import OUTCOME, Sample
from engine.offline.compare.variants import VARIANTS, maintainability


def segment(requests: int, purchases: float, recall: float = 0.5) -> dict[str, Any]:
    return {
        "requests": requests,
        "clicks_per_request": purchases * 5,
        "purchases_per_request": purchases,
        "revenue_per_request": purchases * 40,
        "recall": recall,
    }


def variant(
    name: str,
    *,
    purchases: dict[str, float],
    recall: float = 0.5,
    p99_ms: float = 40.0,
    usd: float = 0.0002,
    fresh_s: float | None = 1.0,
) -> dict[str, Any]:
    """``purchases`` per segment (anonymous, weak, heavy), the same on both surfaces."""
    outcome: dict[str, Any] = {}
    quality: dict[str, Any] = {}
    for surface in ("feed", "search"):
        segs = {s: segment(100 if s != "heavy" else 200, p, recall) for s, p in purchases.items()}
        n = sum(r["requests"] for r in segs.values())
        total = sum(r["purchases_per_request"] * r["requests"] for r in segs.values()) / n
        outcome[surface] = {**segs, "all": segment(n, total)}
        quality[surface] = {
            s: {
                "requests": r["requests"],
                "ndcg@10": 0.1,
                "recall@10": 0.2,
                "hr@10": 0.3,
                "source_recall": {"all_sources": recall},
            }
            for s, r in segs.items()
        }
    fresh = {"source": "bm25" if fresh_s is not None else None, "p99_s": fresh_s}
    return {
        "sources": list(VARIANTS[name]),
        "quality": quality,
        "outcome": outcome,
        "latency": {"end_to_end": {"p50_ms": p99_ms / 3, "p99_ms": p99_ms}, "stages": {}},
        "cost": {"usd_per_request": usd},
        "freshness": {"feed": fresh, "search": fresh, "behaviour_only": []},
        "maintainability": maintainability(VARIANTS[name]),
    }


def sample_of(
    figures: dict[str, dict[str, Any]],
    *,
    noise: float = 0.05,
    seed: int = 0,
    key: str = "purchases_per_request",
    table: str = "outcome",
) -> Sample:
    """Per-request figures whose means are exactly the cells' ``key`` (anonymous, weak and
    heavy of each surface): each variant gets its own noise of standard deviation ``noise``,
    centred per cell, so the means stay put and only the spread is made up. One user per
    request; every request is also an ``all`` row."""
    rng = np.random.default_rng(seed)
    names = tuple(figures)
    first = figures[names[0]][table]
    request, surface, group, cols = [], [], [], []
    r = 0
    for s, segs in first.items():
        for seg, cell in segs.items():
            if seg == "all":
                continue
            n = cell["requests"]
            block = np.empty((n, len(names)))
            for j, name in enumerate(names):
                z = rng.normal(0, noise, n)
                block[:, j] = figures[name][table][s][seg][key] + z - z.mean()
            for g in (seg, "all"):
                request += list(range(r, r + n))
                surface += [s] * n
                group += [g] * n
                cols.append(block)
            r += n
    values = np.concatenate(cols)
    ids = np.array(request, np.int64)
    metrics = {key: values}
    if table == "outcome":
        metrics |= {m: values for m in OUTCOME if m != key}
    return Sample(names, ids, ids, np.array(surface), np.array(group), metrics)
