"""What the data of the product's size costs in memory, measured on samples here: ``python -m
bench.footprint_bench [--vectors 1000000] [--users 20000] [--smoke] [--opensearch-url URL]
[--redis-url URL]``; prints JSON, the input of ``bench.capacity_plan``.

**Vectors (OpenSearch).** ``--vectors`` unit vectors of the towers' dimension go into two
indexes with the backend's HNSW method (Lucene engine, inner product, the same ``m`` and
``ef_construction``): one storing float32, one with Lucene's scalar quantisation (``encoder:
sq``, int8). Each is force-merged to one segment (``--no-merge``: left in the segments the
indexing buffer cut) and its files are read back per kind
(``_stats/segments?include_segment_file_sizes``): the raw vectors (``.vec``), the quantised
ones (``.veq``), the HNSW graph (``.vex``). A search reads the graph and the vectors it scores,
so those are what must stay in the page cache: the *hot* bytes per vector.

**Sessions and counters (Redis).** ``--users`` users each record a day's interactions and
queries through the engine's own ``RedisStore`` (its list caps and expiry), and ``--items``
items get impression and click counters and popularity; ``used_memory`` before and after gives
the bytes per user and per item.

Without ``--opensearch-url`` (or ``--redis-url``) a local node (or ``redis-server``) is started
for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.figures import latency_ms
from engine.core.online_store import Bump, Interaction, Recorded, SessionQuery
from engine.core.settings import Settings
from engine.serving.state.redis_store import RedisStore
from search_plugins.opensearch.params import OpenSearchParams

BULK = 5000
FILES = {"vec": "raw vectors", "veq": "quantised vectors", "vex": "HNSW graph"}


def _mapping(dim: int, quantised: bool) -> dict[str, Any]:
    p = OpenSearchParams(alias="footprint")
    method: dict[str, Any] = {
        "name": "hnsw",
        "engine": "lucene",
        "space_type": "innerproduct",
        "parameters": {"m": p.hnsw_m, "ef_construction": p.hnsw_ef_construction},
    }
    if quantised:
        method["parameters"]["encoder"] = {"name": "sq"}
    return {
        # no refresh while loading: segments are cut when the indexing buffer fills, not every
        # second, so the graphs are built a few times instead of merged over and over
        "settings": {
            "index": {
                "knn": True,
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "refresh_interval": "-1",
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {"vector": {"type": "knn_vector", "dimension": dim, "method": method}},
        },
    }


def _vectors(n: int, dim: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for start in range(0, n, BULK):
        v = rng.standard_normal((min(BULK, n - start), dim)).astype(np.float32)
        yield v / np.linalg.norm(v, axis=1, keepdims=True)


def knn_throughput(client: Any, name: str, dim: int, queries: int) -> dict[str, Any]:
    """``queries`` kNN searches (k 100, the towers' candidate count, with the backend's
    ``ef_search``) against the one shard, in ``_msearch`` batches of 20 from 2 client threads,
    as the engine sends them: answered per second, and the shard's own time per search
    (``took``), the per-shard figures of the plan."""
    from concurrent.futures import ThreadPoolExecutor

    qs = next(_vectors(queries, dim, seed=3))
    header = {"index": name}
    ef = max(OpenSearchParams(alias="footprint").ef_search, 100)

    def batch(block: np.ndarray) -> list[float]:
        body: list[dict[str, Any]] = []
        for q in block:
            knn = {
                "vector": {"vector": q.tolist(), "k": 100, "method_parameters": {"ef_search": ef}}
            }
            body += [header, {"size": 100, "_source": False, "query": {"knn": knn}}]
        got = client.msearch(body=body, request_timeout=120)
        return [r["took"] / 1e3 for r in got["responses"]]

    blocks = [qs[s : s + 20] for s in range(0, len(qs), 20)]
    batch(blocks[0])  # warm: the graph into the page cache
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        took = [t for ts in pool.map(batch, blocks) for t in ts]
    wall = time.perf_counter() - t0
    return {
        "queries": len(qs),
        "ef_search": ef,
        "qps": round(len(qs) / wall, 1),
        "took": latency_ms(took),
    }


def vector_footprint(
    url: str, n: int, dim: int, quantised: bool, queries: int, merge: bool = True
) -> dict[str, Any]:
    """Index ``n`` vectors, merge to one segment (unless not ``merge``), read the file sizes,
    measure kNN throughput; the index is dropped."""
    from opensearchpy import OpenSearch, helpers

    client = OpenSearch(url.split(","), timeout=600)
    name = f"shopnow-footprint-{'sq' if quantised else 'float'}-{int(time.time())}"
    client.indices.create(index=name, body=_mapping(dim, quantised))
    t0 = time.monotonic()
    try:

        def actions() -> Iterator[dict[str, Any]]:
            done = 0
            for block in _vectors(n, dim, seed=1):
                for v in block:
                    yield {"_index": name, "_id": str(done), "vector": v.tolist()}
                    done += 1
                if done % 100_000 == 0 or done == n:
                    print(f"  {name}: {done:,}/{n:,}", file=sys.stderr)

        # two bulk requests in flight: the node builds graphs on both cores
        for ok, item in helpers.parallel_bulk(
            client, actions(), thread_count=2, chunk_size=BULK, request_timeout=600
        ):
            if not ok:
                raise RuntimeError(f"bulk failed: {item}")
        client.indices.refresh(index=name)
        if merge:
            client.indices.forcemerge(index=name, max_num_segments=1, request_timeout=7200)
            client.indices.refresh(index=name)  # the merged-away segments are let go
        client.indices.flush(index=name)
        seconds = time.monotonic() - t0
        stats = client.indices.stats(
            index=name, metric="segments,store", include_segment_file_sizes=True
        )["indices"][name]["primaries"]
        files = {
            ext: int(f["size_in_bytes"])
            for ext, f in stats["segments"].get("file_sizes", {}).items()
        }
        store = int(stats["store"]["size_in_bytes"])
        segments = int(stats["segments"]["count"])
        search = knn_throughput(client, name, dim, queries)
    finally:
        client.indices.delete(index=name)
        client.close()
    hot_file = "veq" if quantised else "vec"
    hot = files.get(hot_file, 0) + files.get("vex", 0)
    return {
        "vectors": n,
        "dim": dim,
        "encoder": "sq (int8)" if quantised else "none (float32)",
        "index_and_merge_s": round(seconds, 1),
        "segments": segments,
        "store_bytes_per_vector": round(store / n, 1),
        "files_bytes_per_vector": {
            f"{ext} ({FILES[ext]})": round(files[ext] / n, 1) for ext in FILES if ext in files
        },
        "hot_bytes_per_vector": round(hot / n, 1),
        "knn_search_one_shard": search,
    }


async def _redis_footprint(url: str, users: int, items: int, per_user: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    prefix = f"footprint{int(time.time())}"
    store = RedisStore(url, prefix=prefix, timeout_s=10.0)
    raw = aioredis.Redis.from_url(url)
    try:
        base = int((await raw.info("memory"))["used_memory"])
        rng = np.random.default_rng(2)
        now = time.time()
        for start in range(0, users, 500):
            recs, queries = [], []
            for u in range(start, min(users, start + 500)):
                picks = rng.integers(items, size=per_user)
                for j, it in enumerate(picks.tolist()):
                    kind = int(rng.integers(1, 4))
                    recs.append(
                        Recorded(f"s{u}", f"u{u}", Interaction(f"item-{it}", kind, now + j))
                    )
                queries += [SessionQuery(f"s{u}", f"query words {u % 977}", now) for _ in range(3)]
            await store.record(recs)
            await store.record_queries(queries)
        after_users = int((await raw.info("memory"))["used_memory"])
        bumps = [Bump("all", f"item-{i}", 1.0, now) for i in range(items)]
        for start in range(0, items, 5000):
            await store.bump(bumps[start : start + 5000])
        after_items = int((await raw.info("memory"))["used_memory"])
        return {
            "users": users,
            "interactions_per_user": per_user,
            "queries_per_user": 3,
            "bytes_per_user": round((after_users - base) / users, 1),
            "items": items,
            "bytes_per_item_counter": round((after_items - after_users) / items, 1),
            "max_list": store._max_len,
        }
    finally:  # only what this run wrote goes
        async for key in raw.scan_iter(match=f"{prefix}:*", count=1000):
            await raw.unlink(key)
        await raw.aclose()
        await store.close()


@contextmanager
def _redis(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from bench.load_bench import redis_server

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as started:
        yield started


@contextmanager
def _opensearch(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from bench.node import node_home
    from devtools.opensearch_node import down, up

    with node_home("shopnow-footprint-") as home:
        try:
            yield up(home, 0, heap="2g").url
        finally:
            down(home)


def run(args: argparse.Namespace) -> dict[str, Any]:
    dim = Settings().vector_dim
    report: dict[str, Any] = {"dim": dim}
    with _redis(args.redis_url) as url:
        report["redis"] = asyncio.run(_redis_footprint(url, args.users, args.items, 20))
    if args.vectors:
        with _opensearch(args.opensearch_url) as url:
            merge = not args.no_merge
            report["opensearch"] = {
                kind: vector_footprint(url, args.vectors, dim, kind == "sq", args.queries, merge)
                for kind in ("float32", "sq")
            }
    return report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.footprint_bench", description=__doc__)
    p.add_argument("--vectors", type=int, default=1_000_000, help="0: skip OpenSearch")
    p.add_argument("--queries", type=int, default=2000, help="kNN searches per index")
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument(
        "--no-merge",
        action="store_true",
        help="keep the segments the indexing buffer cut instead of merging to one (a merge of "
        "1M vectors runs single-threaded for most of an hour on 2 cores); sizes are summed "
        "over the segments, and kNN searches visit each",
    )
    p.add_argument("--opensearch-url")
    p.add_argument("--redis-url")
    p.add_argument("--smoke", action="store_true", help="2,000 vectors, 500 users (for tests)")
    p.add_argument("--output", type=Path, help="write the report (JSON) here too")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.smoke:
        args.vectors, args.users, args.items = min(args.vectors, 2000), 500, 2000
        args.queries = 100
    t0 = time.monotonic()
    report = run(args) | {"seconds": round(time.monotonic() - t0, 1)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
