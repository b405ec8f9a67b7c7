"""Two-tower benchmark on imported Amazon Beauty:
``python -m bench.towers_bench [--quick] [--data-dir DIR] [--workdir DIR]``.

Prints one JSON report (stdout): the ``train-towers`` job on the imported dataset (training
examples, throughput, time and validation recall per window), the query tower's latency per
request on CPU through the served model (held-out users' histories, feed and search), and the
item embedding rate with the text encoder cold (every title through MiniLM) and from the
served model's cache. The towers' quality inside the pipeline is `shopnow eval`'s
``two_tower@k`` source recall (``bench.beauty_bench --two-tower``). ``--quick``: 4 epochs."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.imported import imported
from engine.core.contracts import Surface
from engine.core.segment import Segment
from engine.core.settings import Settings
from engine.offline.train import train_towers
from engine.serving.assembly import load_catalog, load_towers
from synth.dataset import load_dataset
from towers.requests import SURFACE_ID, QueryInputs
from towers.text import TextEncoder, item_text

QUERIES = ("red lipstick", "vitamin c serum", "dry shampoo", "nail polish remover")


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


def _histories(settings: Settings, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The interacted rows before the cut of ``n`` random users who have some."""
    ds = load_dataset(settings.data_dir)
    ev = ds.events
    before = (ev["ts"] < ds.split_ts) & (ev["item"] >= 0) & (ev["kind"] >= 1)
    users, items = ev["user"][before], ev["item"][before]
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, np.diff(users) > 0])
    groups = np.split(items, starts[1:])
    pick = rng.choice(len(groups), min(n, len(groups)), replace=False)
    return [groups[i][-50:] for i in pick]


def run(settings: Settings, *, quick: bool, seed: int, threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"quick": quick, "threads": threads}
    out["training"] = train_towers(settings, max_epochs=4 if quick else 20, seed=seed)
    catalog = load_catalog(settings)
    serving = load_towers(settings, catalog)
    if serving is None:
        raise RuntimeError("train-towers left no served model (is two_tower switched off?)")
    lat: dict[str, list[float]] = {"feed": [], "search": []}
    for k, hist in enumerate(_histories(settings, 300 if quick else 2000, rng)):
        for surface, query in ((Surface.feed, ""), (Surface.search, QUERIES[k % 4] + f" {k}")):
            qi = QueryInputs(
                history=hist.astype(np.int64),
                session=np.zeros(0, np.int64),
                query=query,
                has_user=True,
                surface=SURFACE_ID[surface],
                segment=Segment.heavy,
            )
            t = time.perf_counter()
            serving.query_vector(qi)
            lat[surface.value].append(time.perf_counter() - t)
    out["query_tower_latency"] = {
        "requests": len(lat["feed"]),
        "feed_history_only": _pct(lat["feed"][10:]),
        "search_with_new_query_text": _pct(lat["search"][10:]),
    }
    n_cold = 200 if quick else 1000
    cold_rows = rng.choice(len(catalog), n_cold, replace=False)
    cold = TextEncoder(None, num_threads=threads)
    t0 = time.perf_counter()
    cold.encode(["warm up the model"])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cold.encode([item_text(catalog.titles[int(r)]) for r in cold_rows])
    enc_s = time.perf_counter() - t0
    rows = np.arange(len(catalog), dtype=np.int64)
    t0 = time.perf_counter()
    serving.compute(catalog, rows)  # every title's embedding from the model's cache
    cached_s = time.perf_counter() - t0
    out["item_embedding"] = {
        "cold_items": n_cold,
        "cold_text_encoder_items_per_second": n_cold / enc_s,
        "text_model_load_seconds_imports_done": load_s,
        "cached_items": len(catalog),
        "cached_items_per_second": len(catalog) / cached_s,
    }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 epochs, fewer latency samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=Settings().shared_data)
    p.add_argument("--workdir", type=Path, help="keep the import and the towers here")
    p.add_argument("--reuse", action="store_true", help="reuse the import in --workdir")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        settings = imported(
            "amazon-beauty",
            args.data_dir / "amazon-beauty",
            args.workdir or Path(tmp),
            reuse=args.reuse,
        )
        out = run(settings, quick=args.quick, seed=args.seed, threads=args.threads)
    out["load_average"] = {"start": list(load0), "end": list(os.getloadavg())}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
