"""Embedded and OpenSearch side by side on the same items, through the same async protocol.

Usage: ``python -m bench.backends_bench [--n 1000000] [--dim 64] [--quick]
[--opensearch-url URL] [--backends embedded,opensearch] [--force-merge]``; prints JSON.

Per backend: bulk ingest rate (items/s, vectors included, until searchable), then one client
issuing queries one at a time: lexical top-100, kNN top-100 without a filter, kNN with a
5%-selective category filter and with a 5%-selective brand filter, and hybrid (lexical + kNN
in one call, RRF-fused); p50/p99 in ms. kNN recall@100 against exact inner-product search over
the same vectors (filtered the same way). Without ``--opensearch-url`` a local node is started
(``devtools.opensearch_node``) in a temporary home and stopped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from bench.index_bench import _clustered, _docs
from bench.node import local_node
from engine.core.search import IndexDoc, SearchFilter, SearchIndex
from search_plugins.embedded import EmbeddedIndex
from search_plugins.fusion import fuse
from search_plugins.opensearch import OpenSearchIndex, OpenSearchParams

K = 100
BATCH = 5000


def _catalog(n: int, dim: int) -> tuple[list[IndexDoc], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((1024, dim)).astype(np.float32)
    docs: list[IndexDoc] = []
    for lo in range(0, n, 50_000):
        hi = min(lo + 50_000, n)
        docs += _docs(lo, hi, _clustered(hi - lo, dim, centers, rng), rng)
    vecs = np.stack([d.vector for d in docs if d.vector is not None])
    return docs, vecs, centers


def _filters(docs: list[IndexDoc]) -> dict[str, tuple[SearchFilter, np.ndarray]]:
    """Two 5%-selective filters and the rows that pass each."""
    cat = np.array([d.category.split("/")[0] == "c3" for d in docs])
    brands = tuple(f"b{i}" for i in range(15))  # 15 of 300 brands
    br = np.array([d.brand in brands for d in docs])
    return {
        "category_5pct": (SearchFilter(categories=("c3",)), cat),
        "brand_5pct": (SearchFilter(brands=brands), br),
    }


def _exact(vecs: np.ndarray, q: np.ndarray, mask: np.ndarray | None) -> set[int]:
    s = vecs @ q
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    top = np.argpartition(-s, K)[:K]
    return {int(i) for i in top if np.isfinite(s[i])}


async def _timed(fn: Callable[[int], Awaitable[Any]], n: int) -> tuple[dict[str, float], list[Any]]:
    for i in range(min(10, n)):  # warm-up
        await fn(i)
    times, out = [], []
    for i in range(n):
        t = time.perf_counter()
        out.append(await fn(i))
        times.append((time.perf_counter() - t) * 1000)
    p50, p99 = np.percentile(times, [50, 99])
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}, out


async def _ingest(index: SearchIndex, docs: list[IndexDoc]) -> float:
    t = time.perf_counter()
    for lo in range(0, len(docs), BATCH):
        rep = await index.upsert(docs[lo : lo + BATCH])
        if rep.failed:
            raise RuntimeError(f"ingest failed: {list(rep.failed.items())[:3]}")
        if lo // BATCH % 20 == 0:
            print(f"  {index.name}: {lo + len(rep.stale) + rep.applied:,} items", file=sys.stderr)
    await index.refresh()
    return time.perf_counter() - t


async def _measure(
    index: SearchIndex,
    docs: list[IndexDoc],
    vecs: np.ndarray,
    queries: list[str],
    qvecs: np.ndarray,
) -> dict[str, Any]:
    n = len(queries)
    row = {d.id: i for i, d in enumerate(docs)}
    out: dict[str, Any] = {}
    out["lexical_top100"], _ = await _timed(lambda i: index.lexical(queries[i], K), n)
    cases: dict[str, tuple[SearchFilter | None, np.ndarray | None]] = {"no_filter": (None, None)}
    cases.update(_filters(docs))
    for name, (flt, mask) in cases.items():

        async def knn(i: int, f: SearchFilter | None = flt) -> Any:
            return await index.vector(qvecs[i], K, f, "v1")

        stats, hits = await _timed(knn, n)
        recall = [
            len({row[h] for h in hit.ids} & _exact(vecs, qvecs[i], mask)) / K
            for i, hit in enumerate(hits)
        ]
        out[f"knn_top100_{name}"] = {**stats, "recall@100": round(float(np.mean(recall)), 4)}

    async def hybrid(i: int) -> Any:
        lex, vec = await index.lexical_and_vector(queries[i], qvecs[i], K, None, "v1")
        return fuse(lex, vec, K)

    out["hybrid_rrf_top100"], _ = await _timed(hybrid, n)
    return out


async def _run_backend(
    name: str, args: argparse.Namespace, docs: list[IndexDoc], vecs: np.ndarray, q: Any
) -> dict[str, Any]:
    index: SearchIndex
    tmp = tempfile.mkdtemp(prefix="shopnow-bb-")
    if name == "opensearch":
        params = OpenSearchParams(alias=f"bench-{os.getpid()}", bulk_chunk=1000)
        index = await OpenSearchIndex.create(args.opensearch_url, args.dim, params)
    else:
        index = EmbeddedIndex.create(os.path.join(tmp, "ix"), args.dim)
    try:
        seconds = await _ingest(index, docs)
        res: dict[str, Any] = {
            "ingest_s": round(seconds, 1),
            "ingest_items_per_s": round(len(docs) / seconds),
        }
        if isinstance(index, OpenSearchIndex) and args.force_merge:
            t = time.perf_counter()
            await index.client.indices.forcemerge(
                index=index.params.alias, max_num_segments=1, request_timeout=7200
            )
            await index.refresh()
            res["force_merge_s"] = round(time.perf_counter() - t, 1)
        if isinstance(index, OpenSearchIndex):
            stats = await index.client.indices.segments(index=index.params.alias)
            shards = next(iter(stats["indices"].values()))["shards"]
            res["segments"] = sum(len(c["segments"]) for s in shards.values() for c in s)
        res.update(await _measure(index, docs, vecs, *q))
        return res
    finally:
        if isinstance(index, OpenSearchIndex):
            await index.client.indices.delete(index=f"{index.params.alias}-*")
            await index.client.indices.delete_index_template(name=index.params.alias)
        await index.close()
        shutil.rmtree(tmp, ignore_errors=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    docs, vecs, centers = _catalog(args.n, args.dim)
    qrng = np.random.default_rng(1)
    queries = [
        " ".join(f"w{w}" for w in qrng.integers(20, 3000, size=qrng.integers(1, 4)))
        for _ in range(args.queries)
    ]
    qvecs = _clustered(args.queries, args.dim, centers, qrng)
    report: dict[str, Any] = {
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "k": K,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg()[0],
        "generate_s": round(time.perf_counter() - t, 1),
    }
    for name in args.backends.split(","):
        print(f"bench: {name}", file=sys.stderr)
        report[name] = await _run_backend(name, args, docs, vecs, (queries, qvecs))
    report["loadavg_end"] = os.getloadavg()[0]
    return report


def run_with_node(args: argparse.Namespace) -> dict[str, Any]:
    """Run, starting (and afterwards stopping) a local node when no URL is given."""
    needed = "opensearch" in args.backends
    with local_node(args.opensearch_url, needed=needed, heap=args.heap) as url:
        args.opensearch_url = url
        return asyncio.run(run(args))


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.backends_bench", description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="20K items, 100 queries")
    ap.add_argument("--opensearch-url", help="a running node; default: start a local one")
    ap.add_argument("--backends", default="embedded,opensearch")
    ap.add_argument("--force-merge", action="store_true", help="OpenSearch: merge to 1 segment")
    ap.add_argument("--heap", default="2g", help="heap of the node this bench starts")
    return ap


def _args(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    if args.quick:
        args.n, args.queries = min(args.n, 20_000), min(args.queries, 100)
    return args


def run_named(
    *, quick: bool, opensearch_url: str | None = None, smoke: bool = False
) -> dict[str, Any]:
    """``shopnow-bench backends [--quick]``; ``smoke``: 2,000 items, 10 queries (for tests)."""
    argv = ["--quick"] if quick else ["--force-merge"]
    if smoke:
        argv = ["--n", "2000", "--queries", "10"]
    if opensearch_url:
        argv += ["--opensearch-url", opensearch_url]
    return run_with_node(_args(argv))


def main(argv: list[str] | None = None) -> int:
    report = run_with_node(_args(sys.argv[1:] if argv is None else argv))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
