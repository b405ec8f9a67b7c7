"""The MiniLM text encoder: sentence-transformers on torch against the exported graph on
OpenVINO, on the synthetic marketplace's item texts and queries.

    python -m bench.encoder_bench [--quick] [--workdir DIR] [--reuse] [--requests N]

Prints one JSON report:

* ``throughput``: item texts/s with 2 threads (the bulk paths: the index build, training, the
  demo) and with 1 (a server's vector lane), each texts never seen, for torch, the graph in
  float32 and the graph at its served precision (bfloat16 where the CPU has it);
* ``query``: one new query text's p50/p99 on 1 thread (the request path);
* ``agreement``: the largest absolute difference and the smallest cosine between each graph
  run's vectors and torch's;
* ``recall``: the served pipeline's two-tower recall@100 and @500 on held-out requests (the
  ``shopnow eval`` report), with the same trained towers and every item and query text
  embedded by torch, then by the graph: the towers' index rebuilt from each.

``--quick``: the 5K-item world; the full run is the demo's 50K. The machine's load average is
printed beside the figures; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.two_tower_bench import recall_table
from bench.world import add_world_args, bench_world
from engine.core.settings import Settings
from engine.offline.evaluate import evaluate
from engine.offline.train import build_index, train, train_towers
from engine.serving.assembly import load_catalog
from synth.dataset import load_dataset
from towers.text import Backend, TextEncoder, encoder_graph, item_text
from towers.text_runtime import OpenVinoText

BACKENDS: tuple[Backend, ...] = ("torch", "openvino")


def _texts(settings: Settings, n: int) -> list[str]:
    catalog = load_catalog(settings)
    rows = np.random.default_rng(0).permutation(len(catalog))[:n]
    return [item_text(catalog.titles[r], catalog.descriptions[r]) for r in rows]


def _rate(encode: Any, texts: list[str]) -> tuple[float, np.ndarray]:
    """Texts/s of one timed pass (after a warm-up batch), and the vectors it gave."""
    encode(texts[:32])  # compiled, warmed
    t = time.perf_counter()
    vectors = encode(texts)
    return round(len(texts) / (time.perf_counter() - t), 1), vectors


def throughput(texts: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Items/s per runtime and thread count, and how far each graph run (2 threads) is from
    torch's vectors of the same texts."""
    rates: dict[str, Any] = {}
    agreement: dict[str, Any] = {}
    for threads in (2, 1):
        part = texts if threads == 2 else texts[: len(texts) // 2]
        torch_enc = TextEncoder(None, backend="torch", num_threads=threads, memory_limit=0)
        rates[f"torch_{threads}_threads"], reference = _rate(torch_enc._compute, part)
        for precision in ("f32", None):
            graph = OpenVinoText(encoder_graph(), num_threads=threads, precision=precision)
            name = f"openvino_{graph.precision}"
            rates[f"{name}_{threads}_threads"], got = _rate(graph.encode, part)
            if threads == 2:
                agreement[name] = {
                    "max_abs_diff": float(np.abs(got - reference).max()),
                    "min_cosine": float((got * reference).sum(axis=1).min()),
                }
    for key in list(rates):
        if key.startswith("openvino"):
            n = key.rsplit("_", 2)[1]
            rates[f"{key}_speedup"] = round(rates[key] / rates[f"torch_{n}_threads"], 2)
    return rates, agreement


def query_latency(queries: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        enc = TextEncoder(None, backend=backend, num_threads=1, memory_limit=0)  # every text new
        enc.encode_query("warm up")
        ms = []
        for q in queries:
            t = time.perf_counter()
            enc.encode_query(q)
            ms.append((time.perf_counter() - t) * 1e3)
        out[backend] = {
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "n": len(ms),
        }
    return out


def recall_by_encoder(settings: Settings, workdir: Path, requests: int) -> dict[str, Any]:
    """The same towers served with every text embedded by each backend in turn."""
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    texts = [item_text(catalog.titles[r], catalog.descriptions[r]) for r in range(len(catalog))]
    texts += [str(q) for q in ds.queries]
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        cache = workdir / f"text-cache-{backend}"
        shutil.rmtree(cache, ignore_errors=True)
        TextEncoder(cache, backend=backend).encode(texts)  # every text the pipeline will ask for
        run = settings.model_copy(update={"text_cache": cache})
        for stale in run.towers_dir.glob("*/item_vectors.npz"):
            stale.unlink()  # item vectors recomputed from this cache's texts
        asyncio.run(build_index(run, progress=False))
        table = recall_table(
            asyncio.run(evaluate(run, max_requests=requests)), sources=("two_tower",)
        )
        out[backend] = table
    out["two_tower@100_all_segments"] = {
        surface: {b: out[b][surface]["all"]["two_tower@100"] for b in BACKENDS}
        | {
            "relative_change": round(
                out["openvino"][surface]["all"]["two_tower@100"]
                / out["torch"][surface]["all"]["two_tower@100"]
                - 1,
                4,
            )
        }
        for surface in out["torch"]
    }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_world_args(ap, "world, models and the per-encoder text caches")
    ap.add_argument("--texts", type=int, default=2000, help="item texts timed per run")
    ap.add_argument("--queries", type=int, default=300, help="new query texts timed")
    ap.add_argument("--requests", type=int, default=3000, help="held-out requests evaluated")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        settings, report = bench_world(
            workdir, quick=args.quick, reuse=args.reuse, smoke=args.smoke
        )
        settings = settings.model_copy(update={"text_cache": workdir / "text-cache"})
        report["load_average_before"] = os.getloadavg()
        texts = _texts(settings, args.texts)
        report["throughput"], report["agreement"] = throughput(texts)
        queries = [str(q) + " new" for q in load_dataset(settings.data_dir).queries]
        report["query"] = query_latency(queries[: args.queries])
        if not (args.reuse and (settings.towers_dir / "CURRENT").exists()):
            train_towers(settings, max_epochs=1 if args.smoke else 3 if args.quick else 10)
            asyncio.run(build_index(settings, progress=False))
            asyncio.run(train(settings, max_requests=2000 if args.smoke else 4000))
        report["recall"] = recall_by_encoder(settings, workdir, args.requests)
        report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
