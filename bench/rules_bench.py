"""Request latency with 0, 100 and 10,000 active merchandising rules: ``python -m
bench.rules_bench [--quick] [--workdir DIR --reuse] [--requests 400]``; prints JSON.

On the synthetic marketplace (``--quick``: 5K items; else the demo's 50K) and the embedded
backend, the same search and feed requests are served with no rules, then with N rules drawn
like a merchandising team's: 40% "contains" and 20% "phrase" rules on catalog words, 20% exact
queries, 10% regular expressions, 10% browse rules on a category; their actions pin, boost,
bury or hide. Two figures per N: the whole request (p50/p99, noisy: the sources dominate) and
what the rules add, measured where it is spent: matching and resolving the rules before
retrieval plus the rules stage after the ranker (p50/p99 per request, and how many rules
matched). The target is under 1 ms added at 10,000 rules.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.world import bench_world
from engine.core.contracts import FeedRequest, SearchRequest, Surface
from engine.core.rules.model import Rule
from engine.offline.train import build_index
from engine.serving.assembly import open_engine
from engine.serving.rules.apply import effects_for
from engine.serving.rules.ruleset import RuleSet, normalise
from engine.serving.service import Engine
from synth.dataset import load_dataset


def make_rules(engine: Engine, n: int, seed: int = 0) -> list[Rule]:
    rng = np.random.default_rng(seed)
    cat = engine.catalog
    words = sorted({w for t in cat.titles[:5000] for w in normalise(t).split() if len(w) > 3})
    cats = sorted({cat.category_name(r).split("/")[0] for r in range(min(len(cat), 5000))})
    brands = cat.brands.names()
    rules = []
    for i in range(n):
        u = rng.random()
        w = [str(x) for x in rng.choice(words, size=2, replace=False)]
        match: dict[str, Any]
        if u < 0.4:
            match = {"query": {"kind": "contains", "value": " ".join(w)}}
        elif u < 0.6:
            match = {"query": {"kind": "phrase", "value": " ".join(w)}}
        elif u < 0.8:
            match = {"query": {"kind": "exact", "value": w[0]}}
        elif u < 0.9:
            match = {"query": {"kind": "regex", "value": f"{w[0]}\\s+\\w*{w[1][:3]}"}}
        else:
            match = {"categories": [str(rng.choice(cats))], "surfaces": ["feed"]}
        item = cat.ids[int(rng.integers(len(cat)))]
        v = rng.random()
        if v < 0.3:
            actions: dict[str, Any] = {"pins": [{"item_id": item, "position": 1 + i % 5}]}
        elif v < 0.7:
            weight = float(rng.choice([-0.5, 0.3, 0.6]))
            actions = {
                "boosts": [
                    {"attribute": "brand", "value": str(rng.choice(brands)), "weight": weight}
                ]
            }
        else:
            actions = {"hide": [item]}
        rules.append(
            Rule.model_validate(
                {
                    "id": f"r{i}",
                    "name": f"rule {i}",
                    "priority": int(rng.integers(0, 10)),
                    "match": match,
                    "actions": actions,
                }
            )
        )
    return rules


def _pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64) * 1e3
    q = np.percentile(a, [50, 99]) if a.size else np.zeros(2)
    return {"p50_ms": round(float(q[0]), 4), "p99_ms": round(float(q[1]), 4)}


async def _serve(
    engine: Engine, requests: list[SearchRequest | FeedRequest], stage_s: list[float]
) -> dict[str, Any]:
    total, rules_cost, matched = [], [], []
    for req in requests:
        stage_s.clear()
        t = time.perf_counter()
        await engine.rank(req)
        total.append(time.perf_counter() - t)
        # matching and resolving, timed apart (what rank does before retrieval)
        surface = Surface.search if isinstance(req, SearchRequest) else Surface.feed
        query = req.query if isinstance(req, SearchRequest) else ""
        cats = req.filters.categories or ()
        t = time.perf_counter()
        found = engine.rules.current.match(surface, query, 2, cats, time.time())
        effects_for(found, engine.catalog, query)
        rules_cost.append(time.perf_counter() - t + sum(stage_s))
        matched.append(len(found))
    return {
        "request": _pct(total),
        "rules_added": _pct(rules_cost),
        "rules_matched_mean": round(float(np.mean(matched)), 2),
    }


def _time_stage(engine: Engine) -> list[float]:
    """The rules stage's time per request, recorded into the returned list."""
    spent: list[float] = []
    stage = engine.spec.rules[0]
    inner = stage.rerank

    def timed(*args: Any) -> Any:
        t = time.perf_counter()
        out = inner(*args)
        spent.append(time.perf_counter() - t)
        return out

    stage.rerank = timed  # type: ignore[method-assign,assignment]
    return spent


async def _run(settings: Any, n_requests: int, counts: Sequence[int]) -> dict[str, Any]:
    engine = await open_engine(settings, warm=False)
    try:
        queries = [q for q in load_dataset(settings.data_dir).queries if q.strip()]
        cats = sorted(
            {engine.catalog.category_name(r) for r in range(min(2000, len(engine.catalog)))}
        )
        reqs: list[SearchRequest | FeedRequest] = []
        for i, q in enumerate(queries[: n_requests // 2]):
            reqs.append(SearchRequest(query=str(q)[:100] or "item"))
            reqs.append(FeedRequest(filters={"categories": [cats[i % len(cats)]]}))
        stage_s = _time_stage(engine)
        await _serve(engine, reqs[:20], stage_s)  # warm caches
        out = {}
        for n in counts:
            engine.rules.current = RuleSet(make_rules(engine, n), n)
            out[str(n)] = await _serve(engine, reqs, stage_s)
            print(f"{n} rules: {json.dumps(out[str(n)])}", file=sys.stderr)
        return out
    finally:
        await engine.close()


def run(
    workdir: Path, *, quick: bool, reuse: bool, requests: int, smoke: bool = False
) -> dict[str, Any]:
    """``smoke``: the smallest world, and 0, 10 and 100 rules (for tests)."""
    settings, out = bench_world(workdir, quick=quick, reuse=reuse, smoke=smoke)
    settings = settings.model_copy(update={"index_dir": workdir / "index-rules"})
    if not (reuse and settings.index_dir.exists()):
        asyncio.run(build_index(settings, progress=False))
    counts = (0, 10, 100) if smoke else (0, 100, 10_000)
    out |= {"requests": requests, "rules": asyncio.run(_run(settings, requests, counts))}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rep = run(
            args.workdir or Path(tmp), quick=args.quick, reuse=args.reuse, requests=args.requests
        )
    print(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
