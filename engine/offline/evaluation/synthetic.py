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

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from engine.core.pipeline.candidates import CandidatePool
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.executor import Executor, PipelineResult
from engine.core.pipeline.spec import PipelineSpec
from engine.core.ranking_metrics import evaluate, ndcg_per_list, relevant_from_lists
from ltr.logs import LoggedRequest, LogReplay

SEGMENTS = ("anonymous", "weak", "heavy")  # plus "fresh" (see the module docstring)
OVERALL = "all"  # every request, whatever its segment
K_FINAL = 10
K_RECALL = (100, 500)
EXPOSURE_S = 3600.0  # a new item counts as exposed when a page shows it within this
AGE_GROUPS = (("fresh", 86_400.0), ("new_week", 7 * 86_400.0))


@dataclass(frozen=True, slots=True)
class Observation:
    """One pipeline's run on one held-out request, for callers that measure more."""

    pipeline: str
    request: LoggedRequest
    ctx: RequestContext
    result: PipelineResult
    wall_ms: float
    cpu_ms: float  # this process's CPU time during the run


Observer = Callable[[Observation], None]
Advance = Callable[[float], Awaitable[None]]  # online state up to a request's time


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
    observe: Observer | None = None,
    advance: Advance | None = None,
    per_request: bool = False,
) -> dict[str, Any]:
    """``specs`` maps a label (e.g. "lambdamart", "heuristic") to a pipeline to evaluate;
    ``created_at`` (by catalog row) adds the ``"fresh"`` and ``"new_week"`` groups,
    ``complements`` = (leaf, partner leaf or -1), by catalog row, the ``"complement"`` ones.
    ``"degraded"`` counts, per pipeline, the requests that lost a source (deadline, failure);
    ``"new_item_exposure"`` (with ``created_at``) is the share of the items created in the
    window that a page showed within an hour of their creation. ``observe`` sees every run;
    ``advance`` brings the online state to each request's time first (requests in time
    order: :class:`~engine.offline.cold_start_replay.ColdStartReplay`); ``per_request`` adds each
    group's per-request NDCG@10 (``"ndcg@10_per_request"``, in request order, the same requests
    for every pipeline) for paired comparisons."""
    executors = {name: Executor(s) for name, s in specs.items()}
    buckets: dict[tuple[str, str, str], _Bucket] = defaultdict(
        lambda: _Bucket([], [], defaultdict(list))
    )
    degraded = dict.fromkeys(executors, 0)
    exposed: dict[tuple[str, str], set[int]] = defaultdict(set)  # new items shown within 1 h
    for lr in tqdm(requests, desc="eval", unit="req", disable=not progress):
        relevant = lr.rows[lr.grades > 0]
        if len(relevant) == 0:
            continue
        if advance is not None:
            await advance(lr.ts)
        ctx = replay.context(lr)
        seg = SEGMENTS[int(ctx.segment)]
        groups = [(seg, relevant), (OVERALL, relevant)]
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
            wall, cpu = time.perf_counter(), time.process_time()
            res = await ex.run(ctx)
            if observe is not None:
                wall_ms = (time.perf_counter() - wall) * 1e3
                observe(Observation(name, lr, ctx, res, wall_ms, (time.process_time() - cpu) * 1e3))
            degraded[name] += bool(res.degraded)
            if created_at is not None:
                page = res.pool.rows[res.ranked.order][: ctx.page_size]
                age = lr.ts - created_at[page]
                young = page[(age >= 0) & (age < EXPOSURE_S)].tolist()
                exposed[(name, seg)].update(young)
                exposed[(name, "all")].update(young)
            ranked = res.pool.rows[res.ranked.order][:K_FINAL]
            for group, rel in groups:
                b = buckets[(name, group, ctx.surface.value)]
                b.ranked.append(np.pad(ranked, (0, K_FINAL - len(ranked)), constant_values=-1))
                b.relevant.append(rel)
                _source_recall(b, res.pool, rel)
    out: dict[str, Any] = {"degraded": degraded}
    if created_at is not None and requests:
        out["new_item_exposure"] = _exposure(exposed, requests, created_at)
    for (name, seg, surface), b in sorted(buckets.items()):
        lists, rel_sets = np.stack(b.ranked), relevant_from_lists(b.relevant)
        m = evaluate(lists, rel_sets, ks=(K_FINAL,))
        cell: dict[str, Any] = {
            "requests": len(b.ranked),
            f"ndcg@{K_FINAL}": round(m[f"ndcg@{K_FINAL}"], 4),
            f"recall@{K_FINAL}": round(m[f"recall@{K_FINAL}"], 4),
            f"hr@{K_FINAL}": round(m[f"hr@{K_FINAL}"], 4),
            "source_recall": {k: round(float(np.mean(v)), 4) for k, v in b.recall.items()},
        }
        if per_request:
            cell[f"ndcg@{K_FINAL}_per_request"] = ndcg_per_list(lists, rel_sets, K_FINAL)
        out.setdefault(name, {}).setdefault(surface, {})[seg] = cell
    return out


def _exposure(
    exposed: dict[tuple[str, str], set[int]],
    requests: list[LoggedRequest],
    created_at: npt.NDArray[np.float64],
) -> dict[str, Any]:
    """Share of the items created during the evaluated window (up to an hour before its end)
    that some evaluated request showed on its page within an hour of their creation, per
    pipeline and requesting segment."""
    lo, hi = min(r.ts for r in requests), max(r.ts for r in requests) - EXPOSURE_S
    new = np.flatnonzero((created_at >= lo) & (created_at <= hi))
    out: dict[str, Any] = {"new_items": len(new), "requests": len(requests)}
    for (name, seg), rows in sorted(exposed.items()):
        share = float(np.isin(new, list(rows)).mean()) if len(new) else 0.0
        out.setdefault(name, {})[seg] = round(share, 4)
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
