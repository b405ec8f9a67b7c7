"""Search latency of a catalog served with judged queries, with and without the text lane:
``python -m bench.judged_search_bench --data DIR --judgments FILE [--index D --models D]
[--rounds N] [--quick]``; prints JSON.

The judged queries run in process through the served pipeline (``Engine.rank``'s executor:
sources, features, ranker, re-rankers; first page of 10), several rounds. The first round
meets every query new (the disk cache of text embeddings is not read), so the text lane
embeds each query with MiniLM on the request's time (the cold path). Later rounds find the
query's vector in the in-memory cache (a repeated query). Each configuration reports p50 /
p99 / mean of the whole request and of each pipeline stage. Configurations: every source as
served, and ``bm25`` alone (``--sources``; the query is still embedded for the ranker's
``query_text_similarity`` in hydration). ``--quick``: 2 rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.e2e_bench import _pct
from engine.core.contracts import SearchRequest
from engine.core.settings import Settings
from engine.offline.evaluation.judged import read_judgments
from engine.serving.assembly import open_engine
from engine.serving.context_builder import build_context


async def measure(settings: Settings, queries: list[str], rounds: int) -> dict[str, Any]:
    engine = await open_engine(settings, warm=False)
    engine.spelling.wait()  # the speller's first build, off the measured requests
    try:
        out: dict[str, Any] = {"ranker": engine.spec.scorer.version}
        for r in range(rounds):
            stages: dict[str, list[float]] = defaultdict(list)
            for q in queries:
                ctx = await build_context(SearchRequest(query=q), engine.catalog, engine.store, [])
                t = time.perf_counter()
                ctx = ctx.spelled(engine.speller())
                stages["spelling"].append((time.perf_counter() - t) * 1e3)
                res = await engine.executor.run(ctx)
                stages["request"].append((time.perf_counter() - t) * 1e3)
                for tm in res.timings:
                    stages[tm.stage].append(tm.ms)
            key = "new queries" if r == 0 else f"round {r + 1} (cached query vectors)"
            out[key] = {s: _pct(v) for s, v in stages.items()}
        return out
    finally:
        await engine.close()


def add_judged_args(p: argparse.ArgumentParser) -> None:
    """The imported catalog (``--data``, ``--index``, ``--models``) and its judgments."""
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--index", type=Path)
    p.add_argument("--models", type=Path)
    p.add_argument("--judgments", type=Path, required=True)


def judged_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """The settings of the catalog :func:`add_judged_args` names, with ``extra``."""
    kw: dict[str, Any] = {"data_dir": args.data, **extra}
    if args.index:
        kw["index_dir"] = args.index
    if args.models:
        kw["model_dir"] = args.models
    return Settings(**kw)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.judged_search_bench")
    add_judged_args(p)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    rounds = 2 if args.quick else args.rounds
    queries = sorted(read_judgments(args.judgments))
    report: dict[str, Any] = {"queries": len(queries), "load_1m": round(os.getloadavg()[0], 2)}
    for name, sources in (("every source", None), ("bm25 alone", ("bm25",))):
        # no disk cache of text embeddings: the first round's query vectors are computed
        extra: dict[str, Any] = {"text_cache": None}
        if sources is not None:
            extra["sources"] = sources
        settings = judged_settings(args, **extra)
        report[name] = asyncio.run(measure(settings, queries, rounds))
    report["load_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
