"""Two-tower retrieval beside the traditional sources on the synthetic marketplace.

Builds a world (quick: 5K items / 80K events; full: 50K / 500K, the demo's size), trains the
towers, indexes (item vectors tagged with the model version), trains the ranker with the
two-tower source among its inputs, then reports:

* training: examples/s and seconds to the best validation epoch;
* serving: query-tower latency per request (feed; search with a cached and with a new query
  text), the two-tower source end to end (query tower + kNN on the embedded index), and the
  item embedding rate at ingest (content never seen, and content whose text is cached);
* quality: recall@100 and @500 of every source on held-out logged requests, per surface and
  segment, and for relevant items less than a day old ("fresh");
* provisional vectors: the same evaluation with every item's vector computed from its
  attributes alone (what ingest indexes before the text encoder reaches a new item), on an
  index holding those vectors: what an item loses while the vector lane owes it.

    python -m bench.two_tower_bench [--quick] [--workdir DIR] [--reuse] [--plot PNG]
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
from engine.core.pipeline.context import RequestContext
from engine.core.settings import Settings
from engine.offline.evaluate import evaluate
from engine.offline.train import build_index, train, train_towers
from engine.serving import backends
from engine.serving.assembly import load_catalog, open_engine
from engine.serving.sources.registry import k_of
from ltr.logs import LogReplay
from synth.dataset import load_dataset

SOURCES = ("bm25", "covis", "popular", "trending", "popular_in_context", "two_tower")


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "n": len(xs),
    }


def _contexts(settings: Settings, n: int) -> list[RequestContext]:
    ds = load_dataset(settings.data_dir)
    replay = LogReplay(ds.events, ds.users["segment"], ds.users["user_ids"], ds.queries)
    reqs = replay.requests(ds.split_ts, float(ds.meta["end"]) + 1, max_requests=n, seed=1)
    return [replay.context(r) for r in reqs]


async def serving_figures(settings: Settings, n: int) -> dict[str, Any]:
    from towers.requests import query_inputs

    engine = await open_engine(settings, warm=False)
    towers = engine.towers
    if towers is None:
        raise RuntimeError("no towers model was loaded")
    ctxs = _contexts(settings, n)
    feed = [c for c in ctxs if not c.query]
    search = [c for c in ctxs if c.query]
    out: dict[str, Any] = {"model": towers.version}

    def timed(cs: list[RequestContext]) -> list[float]:
        ts = []
        for c in cs:
            t = time.perf_counter()
            towers.query_vector(query_inputs(c, towers.cfg))
            ts.append((time.perf_counter() - t) * 1e3)
        return ts

    timed(feed[:20])  # warm up
    out["query_tower_feed"] = _pct(timed(feed))
    from towers.text import TextEncoder

    shared = towers.query_encoder
    towers.query_encoder = TextEncoder(None, memory_limit=0, num_threads=1)  # every text new
    towers.query_encoder.encode(["warm up"])
    out["query_tower_search_new_text"] = _pct(timed(search))
    towers.query_encoder = shared
    timed(search)  # every text now cached
    out["query_tower_search_cached_text"] = _pct(timed(search))
    src = next(s.source for s in engine.spec.sources if s.source.name == "two_tower")
    k = k_of(settings, "two_tower")
    ts = []
    for c in ctxs:
        t = time.perf_counter()
        await src.fetch(c, k)
        ts.append((time.perf_counter() - t) * 1e3)
    out[f"two_tower_source_top{k}"] = _pct(ts)
    await engine.close()
    out["item_embedding"] = _ingest_rate(settings, towers)
    return out


def _ingest_rate(settings: Settings, towers: Any) -> dict[str, float]:
    """Items/s through ``TowerServing.ensure`` (features + item tower), text cold and cached."""
    from towers.text import TextEncoder

    catalog = load_catalog(settings)
    rows = np.arange(min(len(catalog), 1000), dtype=np.int64)
    cached = towers.featurizer.encoder
    towers.featurizer.encoder = TextEncoder(None, num_threads=1)  # every text through MiniLM
    towers.featurizer.encoder.encode(["warm up"])
    t = time.perf_counter()
    towers.ensure(catalog, rows)
    cold = len(rows) / (time.perf_counter() - t)
    towers.featurizer.encoder = cached
    towers.ensure(catalog, rows)
    t = time.perf_counter()
    towers.ensure(catalog, rows)
    warm = len(rows) / (time.perf_counter() - t)
    return {"cold_items_per_s": round(cold, 1), "cached_text_items_per_s": round(warm, 1)}


def recall_table(
    report: dict[str, Any], model: str = "lambdamart", sources: Sequence[str] = SOURCES
) -> dict[str, Any]:
    """``surface -> segment -> {source@k: recall}`` from the evaluation report."""
    body = report.get(model) or report["heuristic"]
    out: dict[str, Any] = {}
    for surface, segs in body.items():
        for seg, m in segs.items():
            sr = m["source_recall"]
            row = {f"{s}@{k}": sr.get(f"{s}@{k}") for s in sources for k in (100, 500)}
            row["all_sources"] = sr.get("all_sources")
            row["requests"] = m["requests"]
            row["ndcg@10"] = m["ndcg@10"]
            out.setdefault(surface, {})[seg] = row
    return out


def format_table(table: dict[str, Any], k: int = 500, sources: Sequence[str] = SOURCES) -> str:
    head = "| surface | segment | requests | " + " | ".join(sources) + " | all | NDCG@10 |"
    lines = [head, "|" + "---|" * (len(sources) + 5)]
    for surface, segs in table.items():
        for seg, row in segs.items():
            cells = [row[f"{s}@{k}"] for s in sources]
            shown = ["" if c is None else f"{c:.3f}" for c in cells]
            lines.append(
                f"| {surface} | {seg} | {row['requests']} | "
                + " | ".join(shown)
                + f" | {row['all_sources']:.3f} | {row['ndcg@10']:.3f} |"
            )
    return "\n".join(lines)


def plot(
    table: dict[str, Any],
    path: Path,
    k: int = 500,
    sources: Sequence[str] = SOURCES,
    title: str = "Candidate recall per source (held-out synthetic requests)",
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(s, g) for s, segs in table.items() for g in segs]
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(sources)
    for j, src in enumerate(sources):
        vals = [table[s][g][f"{src}@{k}"] or 0.0 for s, g in groups]
        ax.bar(np.arange(len(groups)) + j * width, vals, width, label=src)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels([f"{s}\n{g}" for s, g in groups])
    ax.set_ylabel(f"recall@{k}")
    ax.set_title(title)
    ax.legend(ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(
    workdir: Path, *, quick: bool, reuse: bool, requests: int, smoke: bool = False
) -> dict[str, Any]:
    """``smoke``: the smallest world and samples every step runs on (for tests)."""
    t = time.perf_counter()
    settings, out = bench_world(workdir, quick=quick, reuse=reuse, smoke=smoke)
    if not (reuse and (settings.towers_dir / "CURRENT").exists()):
        epochs = 1 if smoke else 3 if quick else 10
        out["towers_training"] = train_towers(settings, max_epochs=epochs)
        asyncio.run(build_index(settings))
        asyncio.run(train(settings, max_requests=4000 if quick else 12_000))
    out["build_seconds"] = round(time.perf_counter() - t, 1)
    samples = 30 if smoke else 300 if quick else 1000
    out["serving"] = asyncio.run(serving_figures(settings, samples))
    rep = asyncio.run(evaluate(settings, max_requests=requests, progress=True))
    out["recall"] = recall_table(rep)
    out["provisional"] = provisional_figures(workdir, settings, requests)
    return out


def provisional_figures(workdir: Path, settings: Settings, requests: int) -> dict[str, Any]:
    """two_tower recall@100/@500 (and the whole pipeline's NDCG@10) per surface and segment
    with provisional vectors only."""
    from engine.serving.assembly import index_doc_fn, load_towers

    prov = settings.model_copy(update={"index_dir": workdir / "index-provisional"})
    catalog = load_catalog(prov)
    towers = load_towers(prov, catalog)
    assert towers is not None, "the bench world has a towers model"
    towers.ensure(catalog, np.arange(len(catalog), dtype=np.int64), provisional=True)
    asyncio.run(backends.build(prov, len(catalog), index_doc_fn(catalog, towers)))
    rep = asyncio.run(
        evaluate(prov, max_requests=requests, progress=True, towers_vectors="provisional")
    )
    return recall_table(rep, sources=("two_tower",))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--reuse", action="store_true", help="keep data and models in --workdir")
    ap.add_argument("--requests", type=int, default=3000, help="held-out requests evaluated")
    ap.add_argument("--plot", type=Path, help="PNG of recall@500 per source and segment")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        rep = run(workdir, quick=args.quick, reuse=args.reuse, requests=args.requests)
    print(json.dumps(rep, indent=2))
    print(format_table(rep["recall"]), file=sys.stderr)
    print(format_table(rep["provisional"], sources=("two_tower",)), file=sys.stderr)
    if args.plot:
        print(f"plot: {plot(rep['recall'], args.plot)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
