"""Held-out evaluation on the synthetic marketplace: per-source recall and end-to-end NDCG,
split by user segment and surface, for the ranker and for the heuristic fallback."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from engine.evaluation.metrics import evaluate, relevant_from_lists
from engine.pipeline.executor import Executor
from engine.pipeline.spec import PipelineSpec
from ltr.logs import LoggedRequest, LogReplay

SEGMENTS = ("anonymous", "weak", "heavy")
K_FINAL = 10
K_RECALL = (100, 500)


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
) -> dict[str, Any]:
    """``specs`` maps a label (e.g. "lambdamart", "heuristic") to a pipeline to evaluate."""
    executors = {name: Executor(s) for name, s in specs.items()}
    buckets: dict[tuple[str, str, str], _Bucket] = defaultdict(
        lambda: _Bucket([], [], defaultdict(list))
    )
    for lr in tqdm(requests, desc="eval", unit="req", disable=not progress):
        relevant = lr.rows[lr.grades > 0]
        if len(relevant) == 0:
            continue
        ctx = replay.context(lr)
        seg = SEGMENTS[int(ctx.segment)]
        for name, ex in executors.items():
            res = await ex.run(ctx)
            ranked = res.pool.rows[res.ranked.order][:K_FINAL]
            b = buckets[(name, seg, ctx.surface.value)]
            b.ranked.append(np.pad(ranked, (0, K_FINAL - len(ranked)), constant_values=-1))
            b.relevant.append(relevant)
            for j, src in enumerate(res.pool.source_names):
                proposed = ~np.isnan(res.pool.source_scores[:, j])
                ranks = res.pool.source_ranks[:, j]
                for k in K_RECALL:
                    got = res.pool.rows[proposed & (ranks < k)]
                    b.recall[f"{src}@{k}"].append(float(np.isin(relevant, got).mean()))
            b.recall["all_sources"].append(float(np.isin(relevant, res.pool.rows).mean()))
    out: dict[str, Any] = {}
    for (name, seg, surface), b in sorted(buckets.items()):
        m = evaluate(np.stack(b.ranked), relevant_from_lists(b.relevant), ks=(K_FINAL,))
        out.setdefault(name, {}).setdefault(surface, {})[seg] = {
            "requests": len(b.ranked),
            f"ndcg@{K_FINAL}": round(m[f"ndcg@{K_FINAL}"], 4),
            f"recall@{K_FINAL}": round(m[f"recall@{K_FINAL}"], 4),
            "source_recall": {k: round(float(np.mean(v)), 4) for k, v in b.recall.items()},
        }
    return out
