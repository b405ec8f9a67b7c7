"""Benchmark of the embedded search index: build time, latency, recall, memory.

Usage: ``python -m bench.index_bench [--n 1000000] [--dim 64] [--quick] [--block-share S]
[--no-brand-blocks] [--index-dir DIR] [--sweep]``; prints JSON. ``--block-share 0`` turns the
category and brand blocks off (the row-bitmask path only). ``--index-dir`` builds the index
in DIR and keeps it, or reopens the one already there (then the build figures are not
measured); either way the refresh figures are not measured (the kept index is not written).
``--sweep`` times the exact scan against HNSW-with-bitmap over price filters of growing
selectivity (no blocks apply): the measurement behind ``HnswParams.exact_share``.
Synthetic data: Zipfian text over a 30K-word vocabulary, 20 x 5 x 4 category tree (a
top-level category is a 5%-selective filter), clustered unit vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.core.search import IndexDoc, SearchFilter
from search_plugins.embedded import EmbeddedIndex, EmbeddedParams

VOCAB = 30_000
N_QUERIES = 300


def _docs(lo: int, hi: int, vecs: np.ndarray, rng: np.random.Generator) -> list[IndexDoc]:
    n = hi - lo
    p = 1.0 / np.arange(1, VOCAB + 1) ** 1.07
    words = rng.choice(VOCAB, size=(n, 12), p=p / p.sum())
    lens = rng.integers(6, 13, size=n)
    top, mid, leaf = rng.integers(0, 20, n), rng.integers(0, 5, n), rng.integers(0, 4, n)
    brand, price, stock = rng.integers(0, 300, n), rng.uniform(1, 500, n), rng.random(n) < 0.8
    out = []
    for j in range(n):
        i = lo + j
        out.append(
            IndexDoc(
                id=f"p{i}",
                version=1,
                text=" ".join(f"w{w}" for w in words[j, : lens[j]]),
                category=f"c{top[j]}/c{top[j]}m{mid[j]}/c{top[j]}m{mid[j]}l{leaf[j]}",
                brand=f"b{brand[j]}",
                seller_id="s",
                price=float(price[j]),
                in_stock=bool(stock[j]),
                created_at=0.0,
                vector=vecs[j],
                vector_model="v1",
            )
        )
    return out


def _clustered(n: int, dim: int, centers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = centers[rng.integers(0, len(centers), n)] + 0.35 * rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def _latency(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _rss_mb() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, val = line.split(":")
                out[key.strip()] = round(int(val.split()[0]) / 1024, 1)
    return out


def _build(
    path: str, n_items: int, dim: int, params: EmbeddedParams, centers: np.ndarray
) -> tuple[EmbeddedIndex, dict[str, float]]:
    rng = np.random.default_rng(0)
    idx = EmbeddedIndex.create(path, dim, params)
    batch = 50_000
    t_docs = t_upsert = 0.0
    for lo in range(0, n_items, batch):
        t = time.perf_counter()
        hi = min(n_items, lo + batch)
        docs = _docs(lo, hi, _clustered(hi - lo, dim, centers, rng), rng)
        t_docs += time.perf_counter() - t
        t = time.perf_counter()
        idx.upsert_sync(docs)
        t_upsert += time.perf_counter() - t
    t = time.perf_counter()
    idx.lexical_index.commit()
    t_commit = time.perf_counter() - t
    t = time.perf_counter()
    idx.refresh_sync()
    t_refresh = time.perf_counter() - t
    return idx, {
        "synth_docs": round(t_docs, 1),
        "upsert_tantivy_and_stage": round(t_upsert, 1),
        "tantivy_commit": round(t_commit, 1),
        "lexical_total": round(t_upsert + t_commit, 1),
        "vectors_hnsw_and_columns": round(t_refresh, 1),
    }


def _exact_truth(idx: EmbeddedIndex, q: np.ndarray, k: int, f: SearchFilter | None) -> set[str]:
    """Brute force with plain numpy (independent of the index's own exact path)."""
    mask, _ = idx.attributes.mask(f, "")
    rows = np.flatnonzero(mask)
    scores = idx.vectors.vecs[rows] @ q
    best = rows[np.argsort(-scores, kind="stable")[:k]]
    return {idx.registry.row_id[r] for r in best.tolist()}


def _sweep(idx: EmbeddedIndex, vec_q: np.ndarray, n_q: int) -> dict[str, Any]:
    """Exact scan vs HNSW-with-bitmap at growing selectivity (price ranges: no blocks)."""
    out: dict[str, Any] = {}
    vs = idx.vectors
    for share in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        f = SearchFilter(price_min=1.0, price_max=1.0 + 499.0 * share)
        mask, count = idx.attributes.mask(f, "")
        rows = idx.attributes.rows(f, "")

        def exact_one(i: int, r: np.ndarray = rows) -> object:
            return vs.exact_rows(vec_q[i], 100, r)

        def graph_one(i: int, m: np.ndarray = mask, c: int = count) -> object:
            return vs.graph_search(vec_q[i], 100, m, c)

        exact = _latency(exact_one, n_q)
        graph = _latency(graph_one, n_q)
        recall = []
        for i in range(min(n_q, 50)):
            truth = set(vs.exact_rows(vec_q[i], 100, rows)[0].tolist())
            got = set(vs.graph_search(vec_q[i], 100, mask, count)[0].tolist())
            recall.append(len(truth & got) / max(len(truth), 1))
        out[f"{share:g}"] = {
            "rows": count,
            "exact_p50_p99_ms": [round(exact[0], 3), round(exact[1], 3)],
            "hnsw_bitmap_p50_p99_ms": [round(graph[0], 3), round(graph[1], 3)],
            "hnsw_recall@100": round(float(np.mean(recall)), 4),
        }
    return out


def run(
    n_items: int,
    dim: int = 64,
    quick: bool = False,
    path: str | None = None,
    block_share: float = EmbeddedParams().partition_max_share,
    brand_blocks: bool = True,
    index_dir: str | None = None,
    sweep: bool = False,
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((1024, dim)).astype(np.float32)
    res: dict[str, Any] = {"n_items": n_items, "dim": dim, "quick": quick}
    res["partition_max_share"] = block_share
    res["brand_blocks"] = brand_blocks
    params = EmbeddedParams(
        writer_heap_mb=512, partition_max_share=block_share, brand_blocks=brand_blocks
    )
    with tempfile.TemporaryDirectory(dir=path) as tmp:
        ix_path = index_dir or os.path.join(tmp, "ix")
        reused = index_dir is not None and os.path.exists(os.path.join(index_dir, "meta.json"))
        res["reused_index"] = reused
        if reused:
            t = time.perf_counter()
            idx = EmbeddedIndex.open(ix_path, params)
            res["open_s"] = round(time.perf_counter() - t, 1)
            if len(idx.registry.committed) < n_items:
                raise ValueError(f"{ix_path} holds {len(idx.registry.committed)} items")
        else:
            idx, res["build_s"] = _build(ix_path, n_items, dim, params, centers)
            if index_dir is not None:
                t = time.perf_counter()
                idx.save_sync()
                res["build_s"]["save"] = round(time.perf_counter() - t, 1)
        res["rss_mb_after_build"] = _rss_mb()
        res["vector_blocks_mb"] = {
            p.name: round(
                sum(b.vecs.nbytes + b.rows.nbytes for b in p.blocks.blocks.values()) / 2**20
            )
            for p in idx.vector_search.partitionings
        }

        qrng = np.random.default_rng(1)
        lex_q = [
            " ".join(f"w{w}" for w in qrng.integers(20, 3000, size=qrng.integers(1, 4)))
            for _ in range(N_QUERIES)
        ]
        vec_q = _clustered(N_QUERIES, dim, centers, qrng)
        five = [SearchFilter(categories=(f"c{i % 20}",)) for i in range(N_QUERIES)]
        # the same 5% as 15 of 300 brands: cuts across the category blocks
        brand5 = [
            SearchFilter(brands=tuple(f"b{(15 * i + j) % 300}" for j in range(15)))
            for i in range(N_QUERIES)
        ]
        # a category plus a price range (~2.5%): one block, the price applied as a mask
        cat_price = [
            SearchFilter(categories=(f"c{i % 20}",), price_min=100.0 + i % 50, price_max=350.0)
            for i in range(N_QUERIES)
        ]
        filters: dict[str, list[SearchFilter]] = {
            "filter5pct": five,
            "brand5pct": brand5,
            "cat_price2pct": cat_price,
        }
        lat = {}
        lat["lexical_top100"] = _latency(lambda i: idx.lexical_sync(lex_q[i], 100), N_QUERIES)
        lat["lexical_top100_filter5pct"] = _latency(
            lambda i: idx.lexical_sync(lex_q[i], 100, five[i]), N_QUERIES
        )
        lat["vector_top100"] = _latency(lambda i: idx.vector_sync(vec_q[i], 100), N_QUERIES)
        for name, flts in filters.items():

            def one(i: int, f: list[SearchFilter] = flts) -> object:
                return idx.vector_sync(vec_q[i], 100, f[i])

            lat[f"vector_top100_{name}"] = _latency(one, N_QUERIES)
        res["latency_ms_p50_p99"] = {k: [round(a, 3), round(b, 3)] for k, (a, b) in lat.items()}

        n_rec = 50 if quick else 100
        unfiltered: list[SearchFilter | None] = [None] * N_QUERIES
        recall_sets: dict[str, Sequence[SearchFilter | None]] = {"unfiltered": unfiltered}
        recall_sets.update(filters)
        for name, fl in recall_sets.items():
            recalls = []
            for i in range(n_rec):
                got = idx.vector_sync(vec_q[i], 100, fl[i]).ids
                truth = _exact_truth(idx, vec_q[i], 100, fl[i])
                recalls.append(len(truth.intersection(got)) / len(truth))
            res[f"recall@100_{name}"] = round(float(np.mean(recalls)), 4)
        if sweep:
            res["exact_vs_hnsw_by_selectivity"] = _sweep(idx, vec_q, 100)
        if index_dir is not None:  # keep the index as built: no writes (saved after build)
            idx.lexical_index.close()
            res["rss_mb_end"] = _rss_mb()
            return res
        t = time.perf_counter()
        idx.upsert_sync(_docs(n_items, n_items + 1000, _clustered(1000, dim, centers, rng), rng))
        idx.refresh_sync()
        res["refresh_1000_new_docs_ms"] = round((time.perf_counter() - t) * 1000, 1)
        t = time.perf_counter()
        idx.refresh_sync()
        res["refresh_idle_ms"] = round((time.perf_counter() - t) * 1000, 2)
        t = time.perf_counter()
        idx.save_sync()
        res["save_s"] = round(time.perf_counter() - t, 1)
        res["rss_mb_end"] = _rss_mb()
        idx.close_sync()
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="50K items, under a minute")
    ap.add_argument("--tmp", default=None, help="directory for the temporary index")
    ap.add_argument(
        "--block-share",
        type=float,
        default=EmbeddedParams().partition_max_share,
        help="EmbeddedParams.partition_max_share (0: no vector blocks, the row-bitmask path)",
    )
    ap.add_argument("--no-brand-blocks", action="store_true", help="category blocks only")
    ap.add_argument("--index-dir", default=None, help="build the index here and keep it, or reuse")
    ap.add_argument("--sweep", action="store_true", help="exact vs HNSW by filter selectivity")
    args = ap.parse_args(argv)
    n = 50_000 if args.quick else args.n
    res = run(
        n,
        args.dim,
        args.quick,
        args.tmp,
        args.block_share,
        brand_blocks=not args.no_brand_blocks,
        index_dir=args.index_dir,
        sweep=args.sweep,
    )
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
