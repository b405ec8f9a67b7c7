"""Freshness under sustained catalog ingest: ``python -m bench.ingest_bench [--quick]
[--rate 500] [--seconds 600] [--backends embedded,opensearch] [--opensearch-url URL]
[--workdir DIR --reuse] [--plot PNG]``; prints JSON.

On the synthetic marketplace (two-tower and graph models trained, so every candidate source is
live), new items are accepted at ``--rate`` items/s (batches of 50 every 0.1 s, through the same
call ``PUT /v1/items?wait=0`` makes) while the ingest worker and the vector lane apply them.
Every title is new (a word only that item has), so every item needs a MiniLM pass: the worst
case. For each item and each candidate source, freshness is the time from acceptance to the
moment that source can return it: ``catalog`` (hydration, filters), ``graph`` (graph-space
vector from content), ``bm25`` (in the index after its refresh), ``two_tower`` (in the index
with a vector of the served model: provisional, from its attributes, until the lane has embedded
its text); ``all`` is the latest of them. ``two_tower_full`` is the time until the full vector
(text included) is in the index: the lane's rate, reported apart. A probe also searches, once a
second, for the newest item's unique word until a lexical search of the index returns it: the
same figure seen from outside. The stage with the most busy time is named as the bottleneck;
when the lane cannot keep up, the full vectors still owed at the end and its rate are reported.
Once the log holds more than its capacity, writes are refused with 429: counted as
``refused_log_full``. ``--quick``: 5K-item world, 30 s at the rate. Without ``--opensearch-url``
a local node is started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.node import dropped_after, local_node
from bench.world import bench_world
from engine.core.settings import Settings
from engine.offline.compare.freshness import new_item, templates
from engine.offline.train import build_index, train_graph, train_towers
from engine.serving.assembly import open_engine
from engine.serving.service import Engine
from engine.serving.vector_lane import FULL_SOURCE
from ingest.log import LogFull

BATCH = 50


def _pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"n": 0}
    q = np.percentile(a, [50, 95, 99])
    return {
        "n": int(a.size),
        "p50_s": round(float(q[0]), 3),
        "p95_s": round(float(q[1]), 3),
        "p99_s": round(float(q[2]), 3),
        "max_s": round(float(a.max()), 3),
    }


async def _probe(
    engine: Engine, newest: list[tuple[int, float]], tag: str, out: list[float]
) -> None:
    """Once a second: the newest accepted item, searched for in the index by its own word
    until a lexical search returns it (what the BM25 source sees; whether the ranker then puts
    a brand-new item on the first page is a ranking question, not a freshness one); the time
    from its acceptance to the first search that returns it."""
    while True:
        await asyncio.sleep(1.0)
        if not newest:
            continue
        k, accepted = newest[-1]
        while True:
            hits = await engine.index.lexical(f"zq{k}{tag}x", 5)
            if f"nrt-{tag}-{k}" in hits.ids:
                out.append(time.monotonic() - accepted)
                break
            await asyncio.sleep(0.02)


async def _run_backend(settings: Settings, rate: int, seconds: float) -> dict[str, Any]:
    engine = await open_engine(settings, warm=False)
    fresh: dict[str, list[float]] = defaultdict(list)
    stages: dict[str, list[float]] = defaultdict(list)
    hook_s = engine.writes.writer.on_stage

    def on_fresh(source: str, s: float) -> None:
        fresh[source].append(s)
        engine.metrics.freshness.labels(source).observe(s)

    def on_stage(stage: str, s: float) -> None:
        stages[stage].append(s)
        hook_s(stage, s)

    engine.writes.worker.on_freshness = engine.writes.writer.on_freshness = on_fresh
    engine.writes.writer.on_stage = on_stage
    tpl = templates(settings, 2000)
    worker = asyncio.create_task(engine.writes.worker.run(idle_s=0.05))
    vector_lane = engine.writes.writer.lane
    assert vector_lane is not None, "the benchmark world has a towers model"
    lane = asyncio.create_task(vector_lane.run(idle_s=0.05))
    newest: list[tuple[int, float]] = []
    probes: list[float] = []
    # a tag unique to the run: the text-embedding cache has never seen these titles
    tag = f"{settings.search_backend[:2]}{secrets.token_hex(3)}"
    probe = asyncio.create_task(_probe(engine, newest, tag, probes))
    accept_ms: list[float] = []
    per_tick = max(1, round(rate / 10))
    k, refused, t_start = 0, 0, time.monotonic()
    next_tick = t_start
    lag_max = owed_max = 0
    try:
        while time.monotonic() - t_start < seconds:
            batch = [new_item(tpl[(k + j) % len(tpl)], k + j, tag) for j in range(per_tick)]
            t = time.perf_counter()
            try:
                rep = await engine.writes.upsert(batch, wait_s=0)
            except LogFull:
                refused += len(batch)  # backpressure: a client would retry after Retry-After
            else:
                accept_ms.append((time.perf_counter() - t) * 1e3)
                assert not rep.failed, rep.failed
                newest.append((k + per_tick - 1, time.monotonic()))
            k += per_tick
            lag_max = max(lag_max, engine.writes.worker.lag)
            owed_max = max(owed_max, engine.writes.writer.owed)
            next_tick += 0.1
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        offered_s = time.monotonic() - t_start
        while engine.writes.worker.lag:
            await asyncio.sleep(0.05)
        drained_s = time.monotonic() - t_start
        owed_end = engine.writes.writer.owed
    finally:
        for task in (probe, worker, lane):
            task.cancel()
        await asyncio.gather(probe, worker, lane, return_exceptions=True)
        await engine.close()
    embedded = len(fresh.get(FULL_SOURCE, []))
    totals = {st: float(np.sum(v)) for st, v in stages.items()}
    busy = sum(totals.values())
    return {
        "items": k,
        "refused_log_full": refused,
        "offered_rate": round(k / offered_s, 1),
        "applied_rate": round((k - refused) / drained_s, 1),
        "seconds": round(offered_s, 1),
        "max_lag_changes": lag_max,
        "vector_lane": {
            "max_owed": owed_max,
            "owed_at_end": owed_end,
            "vectors_per_s": round(embedded / drained_s, 1),
        },
        "accept_ms": _pct([x / 1e3 for x in accept_ms]) | {"unit": "s"},
        "freshness": {src: _pct(v) for src, v in sorted(fresh.items())},
        "probe_lexical_found_after": _pct(probes),
        "stage_share": {st: round(v / busy, 3) for st, v in sorted(totals.items())},
        "stage_ms_per_batch": {
            st: round(1e3 * float(np.mean(v)), 2) for st, v in sorted(stages.items())
        },
        "busy_share": round(busy / drained_s, 3),  # worker and lane together
        "bottleneck": max(totals, key=lambda s: totals[s]) if totals else None,
    }


def run(
    workdir: Path,
    *,
    quick: bool,
    reuse: bool,
    backends: Sequence[str],
    rate: int,
    seconds: float | None,
    opensearch_url: str | None,
    smoke: bool = False,
) -> dict[str, Any]:
    """``smoke``: the smallest world and epochs every step runs on (for tests)."""
    settings, out = bench_world(workdir, quick=quick, reuse=reuse, smoke=smoke)
    if not (reuse and (settings.towers_dir / "CURRENT").is_file()):
        train_towers(settings, max_epochs=1 if smoke else 2 if quick else 6)
        train_graph(settings, max_epochs=2 if smoke else 10 if quick else 30)
    duration = seconds if seconds is not None else (30.0 if quick else 600.0)
    out |= {"rate": rate, "seconds": duration, "batch": BATCH, "backends": {}}
    for backend in backends:
        b = settings.model_copy(
            update={
                "search_backend": backend,
                "ingest_dir": workdir / f"ingest-{backend}",
                "index_dir": workdir / f"index-{backend}",
                "opensearch_url": opensearch_url or settings.opensearch_url,
                "opensearch_alias": f"bench-ingest-{int(time.time())}",
            }
        )
        shutil.rmtree(b.ingest_path, ignore_errors=True)  # a fresh log: no earlier run replayed
        with dropped_after(b):
            asyncio.run(build_index(b, progress=False))
            print(f"{backend}: {rate} items/s for {duration:.0f} s", file=sys.stderr)
            out["backends"][backend] = asyncio.run(_run_backend(b, rate, duration))
        print(json.dumps(out["backends"][backend]["freshness"].get("all")), file=sys.stderr)
    return out


def plot(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(report["backends"])
    sources = sorted({s for b in report["backends"].values() for s in b["freshness"]})
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        fr = report["backends"][name]["freshness"]
        vals = [max(fr.get(s, {}).get("p99_s", 0.0), 1e-3) for s in sources]
        xs = [j + i * width for j in range(len(sources))]
        ax.bar(xs, vals, width, label=name)
        for x, v in zip(xs, vals, strict=True):
            ax.annotate(f"{v:.2g}", (x, v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(sources))])
    ax.set_xticklabels(sources)
    ax.axhline(5.0, color="red", linestyle="--", linewidth=1, label="target p99 5 s")
    ax.set_yscale("log")
    ax.set_ylabel("p99 seconds from acceptance to eligibility")
    ax.set_title(
        f"Freshness per source at {report['rate']} new items/s "
        "(two_tower_full: full vectors done in the run)"
    )
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_named(*, quick: bool, opensearch_url: str | None, smoke: bool = False) -> dict[str, Any]:
    """For ``shopnow-bench ingest``: both backends at 500 items/s (``smoke``: 100 items/s for
    3 s on the smallest world)."""
    backends = ("embedded", "opensearch")
    with tempfile.TemporaryDirectory() as tmp, local_node(opensearch_url) as url:
        return run(
            Path(tmp),
            quick=quick,
            reuse=False,
            backends=backends,
            rate=100 if smoke else 500,
            seconds=3.0 if smoke else None,
            opensearch_url=url,
            smoke=smoke,
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rate", type=int, default=500, help="items accepted per second")
    ap.add_argument("--seconds", type=float, help="default 600 (quick: 30)")
    ap.add_argument("--backends", default="embedded,opensearch")
    ap.add_argument("--opensearch-url", help="a running node; default: start a local one")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--reuse", action="store_true", help="keep data and models in --workdir")
    ap.add_argument("--plot", type=Path, help="PNG of p99 freshness per source and backend")
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    needed = "opensearch" in backends
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_node(args.opensearch_url, needed=needed) as url,
    ):
        rep = run(
            args.workdir or Path(tmp),
            quick=args.quick,
            reuse=args.reuse,
            backends=backends,
            rate=args.rate,
            seconds=args.seconds,
            opensearch_url=url,
        )
    print(json.dumps(rep, indent=2))
    if args.plot:
        print(f"plot: {plot(rep, args.plot)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
