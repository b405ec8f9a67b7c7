"""Graph candidates on the synthetic marketplace: what LightGCN and bought-together add.

Builds a world (quick: 5K items / 80K events; full: 50K / 500K, the demo's size), trains the
towers and the graph model, indexes, trains the ranker with every source among its inputs, then
reports:

* quality: recall@100/@500 of every feed source on held-out logged requests, per segment, for
  relevant items less than a week old, and for relevant items that complement an earlier
  purchase (``complement``, overall and per segment: the signal bought-together exists for);
* new items: recall of content-mapped graph vectors on items held out of training
  (:func:`graph.marketplace.inductive_recall`), beside chance and the trained ceiling;
* incremental bought-together updates: seconds per batch of new events and events/s, and
  whether a pair seen only in new events is served after one batch;
* serving: graph and bought-together source latency; LightGCN training time.

    python -m bench.graph_bench [--quick] [--workdir DIR] [--reuse] [--plot PNG]
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

from bench.two_tower_bench import _contexts, _pct, format_table, plot, recall_table
from bench.world import bench_world
from engine.core.settings import Settings
from engine.offline.evaluate import evaluate
from engine.offline.train import build_index, train, train_graph, train_towers
from engine.serving.assembly import load_catalog, load_graph
from graph.cooccurrence import Events
from graph.marketplace import inductive_recall
from graph.train import LightGCNConfig
from synth.dataset import load_dataset
from synth.truth import load_truth

FEED_SOURCES = ("covis", "popular_in_context", "two_tower", "graph", "bought_together")


async def _source_latency(settings: Settings, n: int) -> dict[str, Any]:
    # the graph sources import torch-geometric when they serve a model
    from engine.serving.models import ModelHolder
    from engine.serving.sources.graph import BoughtTogetherSource, GraphSource

    catalog = load_catalog(settings)
    serving = load_graph(settings, catalog)
    if serving is None:
        raise RuntimeError("no graph model was loaded")
    ctxs = [c for c in _contexts(settings, n) if not c.query]
    out: dict[str, Any] = {}
    held = ModelHolder("graph", serving)
    for src, k in ((GraphSource(held), 800), (BoughtTogetherSource(held), 300)):
        ts = []
        for c in ctxs:
            t = time.perf_counter()
            await src.fetch(c, k)
            ts.append((time.perf_counter() - t) * 1e3)
        out[f"{src.name}_top{k}"] = _pct(ts)
    return out


def incremental(settings: Settings, batch: int = 1000) -> dict[str, Any]:
    """Replays the events after the split into the served bought-together graph in batches."""
    catalog = load_catalog(settings)
    serving = load_graph(settings, catalog)
    if serving is None:
        raise RuntimeError("no graph model was loaded")
    ds = load_dataset(settings.data_dir)
    ev = ds.events
    sel = np.flatnonzero((ev["ts"] >= ds.split_ts) & (ev["kind"] >= 1) & (ev["kind"] <= 3))
    sel = sel[np.argsort(ev["ts"][sel], kind="stable")]
    times, touched = [], []
    for s in range(0, len(sel), batch):
        part = sel[s : s + batch]
        t = time.perf_counter()
        rows = serving.record(
            Events(
                ev["user"][part].astype(np.int64),
                ev["item"][part].astype(np.int64),
                ev["kind"][part],
                ev["ts"][part].astype(np.float64),
            )
        )
        times.append(time.perf_counter() - t)
        touched.append(len(rows))
    # a pair that exists only in new events: two fresh rows bought together by one user
    n = serving.item_graph.n_items
    t0 = float(ev["ts"].max()) + 60
    probe = Events(
        np.array([-1, -1], np.int64),
        np.array([n, n + 1], np.int64),
        np.array([3, 3]),
        np.array([t0, t0 + 60]),
    )
    t = time.perf_counter()
    serving.record(probe)
    probe_s = time.perf_counter() - t
    got, _ = serving.item_graph.neighbors(np.array([n]), np.ones(1, np.float32), 5)
    total = float(np.sum(times))
    return {
        "events": len(sel),
        "batch": batch,
        "batches": len(times),
        "seconds_per_batch_p50": round(float(np.median(times)), 4),
        "seconds_per_batch_max": round(float(np.max(times)), 4),
        "events_per_second": round(len(sel) / max(total, 1e-9), 1),
        "rows_refreshed_per_batch_p50": int(np.median(touched)) if touched else 0,
        "new_pair_served_after_one_batch": bool(n + 1 in got.tolist()),
        "new_pair_batch_seconds": round(probe_s, 4),
    }


def run(
    workdir: Path, *, quick: bool, reuse: bool, requests: int, smoke: bool = False
) -> dict[str, Any]:
    """``smoke``: the smallest world, epochs and samples every step runs on (for tests)."""
    t = time.perf_counter()
    settings, out = bench_world(workdir, quick=quick, reuse=reuse, smoke=smoke)
    if not (reuse and (settings.towers_dir / "CURRENT").exists()):
        train_towers(settings, max_epochs=1 if smoke else 3 if quick else 10)
    if not (reuse and (settings.graph_dir / "serve" / "meta.json").exists()):
        epochs = 2 if smoke else 20 if quick else 60
        out["graph_training"] = train_graph(settings, max_epochs=epochs)
        asyncio.run(build_index(settings))
        asyncio.run(train(settings, max_requests=4000 if quick else 12_000))
    out["build_seconds"] = round(time.perf_counter() - t, 1)
    ds = load_dataset(settings.data_dir)
    epochs = 2 if smoke else 20 if quick else 40
    cfg = LightGCNConfig(batch_size=8192, lr=0.01, max_epochs=epochs)
    out["new_items"] = inductive_recall(ds, load_catalog(settings), ds.split_ts, cfg)
    samples = 30 if smoke else 300 if quick else 1000
    out["serving"] = asyncio.run(_source_latency(settings, samples))
    out["incremental"] = incremental(settings)
    # a simulation experiment: the generator's complement pairs say which items complement
    complements = load_truth(settings.data_dir).complements
    rep = asyncio.run(
        evaluate(settings, max_requests=requests, progress=True, complements=complements)
    )
    out["recall"] = recall_table(rep, sources=FEED_SOURCES)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--reuse", action="store_true", help="keep data and models in --workdir")
    ap.add_argument("--requests", type=int, default=3000, help="held-out requests evaluated")
    ap.add_argument("--plot", type=Path, help="PNG of feed recall@500 per source and segment")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        rep = run(workdir, quick=args.quick, reuse=args.reuse, requests=args.requests)
    print(json.dumps(rep, indent=2))
    feed = {"feed": rep["recall"].get("feed", {})}
    print(format_table(feed, sources=FEED_SOURCES), file=sys.stderr)
    if args.plot:
        title = "Feed candidate recall@500 per source: graph sources and complements"
        print(f"plot: {plot(feed, args.plot, sources=FEED_SOURCES, title=title)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
