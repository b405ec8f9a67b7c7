"""Benchmark of the embedded search index: build time, latency, recall, memory.

Usage: ``python -m bench.index_bench [--n 1000000] [--dim 64] [--quick] [--block-share S]``;
prints JSON. ``--block-share 0`` turns the category blocks off (the HNSW/bitmap path only).
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

from search_plugins.embedded import EmbeddedIndex, EmbeddedParams
from search_plugins.protocol import IndexDoc, SearchFilter

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


def run(
    n_items: int,
    dim: int = 64,
    quick: bool = False,
    path: str | None = None,
    block_share: float = EmbeddedParams().partition_max_share,
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((1024, dim)).astype(np.float32)
    res: dict[str, Any] = {"n_items": n_items, "dim": dim, "quick": quick}
    res["partition_max_share"] = block_share
    with tempfile.TemporaryDirectory(dir=path) as tmp:
        params = EmbeddedParams(writer_heap_mb=512, partition_max_share=block_share)
        idx = EmbeddedIndex.create(os.path.join(tmp, "ix"), dim, params)
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
        res["build_s"] = {
            "synth_docs": round(t_docs, 1),
            "upsert_tantivy_and_stage": round(t_upsert, 1),
            "tantivy_commit": round(t_commit, 1),
            "lexical_total": round(t_upsert + t_commit, 1),
            "vectors_hnsw_and_columns": round(t_refresh, 1),
        }
        res["rss_mb_after_build"] = _rss_mb()
        blocks = idx.vector_search.blocks.blocks.values()
        res["category_blocks_mb"] = round(
            sum(b.vecs.nbytes + b.rows.nbytes for b in blocks) / 2**20
        )

        qrng = np.random.default_rng(1)
        lex_q = [
            " ".join(f"w{w}" for w in qrng.integers(20, 3000, size=qrng.integers(1, 4)))
            for _ in range(N_QUERIES)
        ]
        vec_q = _clustered(N_QUERIES, dim, centers, qrng)
        five = [SearchFilter(categories=(f"c{i % 20}",)) for i in range(N_QUERIES)]
        # the same 5% as 15 of 300 brands: no category, so no block to scan (generic path)
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
                f = fl[i]
                got = idx.vector_sync(vec_q[i], 100, f).ids
                mask, _ = idx.attributes.mask(f, "")
                rows, _ = idx.vectors.exact(vec_q[i], 100, mask)
                truth = {idx.registry.row_id[r] for r in rows.tolist()}
                recalls.append(len(truth.intersection(got)) / len(truth))
            res[f"recall@100_{name}"] = round(float(np.mean(recalls)), 4)
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
        help="EmbeddedParams.partition_max_share (0: no category blocks, the old path)",
    )
    args = ap.parse_args(argv)
    n = 50_000 if args.quick else args.n
    print(json.dumps(run(n, args.dim, args.quick, args.tmp, args.block_share), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
