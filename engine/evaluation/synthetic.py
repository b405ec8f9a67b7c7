"""Held-out evaluation on the synthetic marketplace: per-source recall and end-to-end NDCG,
split by user segment and surface, for the ranker and for the heuristic fallback.

With item creation times given, the same figures are also reported for the relevant items
less than a day old at request time (segment ``"fresh"``: what a source does for the 4M items
a day that arrive with no behaviour yet) and less than a week old (``"new_week"``, a larger
sample of the same effect).

With the marketplace's complement pairs given (each item's leaf and the partner leaf of its
pair), group ``"complement"`` holds the relevant items that complement something the user
bought earlier (a case after a phone): the signal bought-together candidates exist for. The
group is reported per segment as ``"complement:<segment>"`` too."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from engine.evaluation.metrics import evaluate, relevant_from_lists
from engine.pipeline.candidates import CandidatePool
from engine.pipeline.context import RequestContext
from engine.pipeline.executor import Executor
from engine.pipeline.spec import PipelineSpec
from ltr.logs import LoggedRequest, LogReplay

SEGMENTS = ("anonymous", "weak", "heavy")  # plus "fresh" (see the module docstring)
K_FINAL = 10
K_RECALL = (100, 500)
AGE_GROUPS = (("fresh", 86_400.0), ("new_week", 7 * 86_400.0))


@dataclass
class _Bucket:
    ranked: list[np.ndarray]
    relevant: list[np.ndarray]
    recall: dict[str, list[float]]


async def evaluate_requests(
    specs: dict[str, PipelineSpec],
    replay: LogReplay,
    requests: list[LoggedRequest],
    progress: bool = True,
    created_at: npt.NDArray[np.float64] | None = None,
    complements: tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]] | None = None,
) -> dict[str, Any]:
    """``specs`` maps a label (e.g. "lambdamart", "heuristic") to a pipeline to evaluate;
    ``created_at`` (by catalog row) adds the ``"fresh"`` and ``"new_week"`` groups,
    ``complements`` = (leaf, partner leaf or -1), by catalog row, the ``"complement"`` ones.
    ``"degraded"`` counts, per pipeline, the requests that lost a source (deadline, failure)."""
    executors = {name: Executor(s) for name, s in specs.items()}
    buckets: dict[tuple[str, str, str], _Bucket] = defaultdict(
        lambda: _Bucket([], [], defaultdict(list))
    )
    degraded = dict.fromkeys(executors, 0)
    for lr in tqdm(requests, desc="eval", unit="req", disable=not progress):
        relevant = lr.rows[lr.grades > 0]
        if len(relevant) == 0:
            continue
        ctx = replay.context(lr)
        seg = SEGMENTS[int(ctx.segment)]
        groups = [(seg, relevant)]
        if created_at is not None:
            age = lr.ts - created_at[relevant]
            for group_name, limit in AGE_GROUPS:
                young = relevant[(age >= 0) & (age < limit)]
                if len(young):
                    groups.append((group_name, young))
        if complements is not None:
            comp = _complementary(ctx, relevant, *complements)
            if len(comp):
                groups += [("complement", comp), (f"complement:{seg}", comp)]
        for name, ex in executors.items():
            res = await ex.run(ctx)
            degraded[name] += bool(res.degraded)
            ranked = res.pool.rows[res.ranked.order][:K_FINAL]
            for group, rel in groups:
                b = buckets[(name, group, ctx.surface.value)]
                b.ranked.append(np.pad(ranked, (0, K_FINAL - len(ranked)), constant_values=-1))
                b.relevant.append(rel)
                _source_recall(b, res.pool, rel)
    out: dict[str, Any] = {"degraded": degraded}
    for (name, seg, surface), b in sorted(buckets.items()):
        m = evaluate(np.stack(b.ranked), relevant_from_lists(b.relevant), ks=(K_FINAL,))
        out.setdefault(name, {}).setdefault(surface, {})[seg] = {
            "requests": len(b.ranked),
            f"ndcg@{K_FINAL}": round(m[f"ndcg@{K_FINAL}"], 4),
            f"recall@{K_FINAL}": round(m[f"recall@{K_FINAL}"], 4),
            "source_recall": {k: round(float(np.mean(v)), 4) for k, v in b.recall.items()},
        }
    return out


def _complementary(
    ctx: RequestContext,
    relevant: npt.NDArray[np.int64],
    leaf: npt.NDArray[np.integer],
    partner: npt.NDArray[np.integer],
) -> npt.NDArray[np.int64]:
    """The relevant items in the partner leaf of an item bought before the request."""
    bought = np.concatenate([ctx.user_history.purchased(), ctx.session.purchased()])
    bought = bought[bought < len(partner)]
    targets = partner[bought]
    targets = targets[targets >= 0]
    ok = relevant < len(leaf)
    rel = relevant[ok]
    return rel[np.isin(leaf[rel], targets)]


def _source_recall(b: _Bucket, pool: CandidatePool, relevant: npt.NDArray[np.int64]) -> None:
    for j, src in enumerate(pool.source_names):
        proposed = ~np.isnan(pool.source_scores[:, j])
        ranks = pool.source_ranks[:, j]
        for k in K_RECALL:
            got = pool.rows[proposed & (ranks < k)]
            b.recall[f"{src}@{k}"].append(float(np.isin(relevant, got).mean()))
    b.recall["all_sources"].append(float(np.isin(relevant, pool.rows).mean()))
