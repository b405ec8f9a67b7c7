"""Two-tower benchmark: ``python -m bench.towers_bench [--quick] [--data-dir DIR]``.

Prints one JSON report (stdout): Amazon Beauty quality of two-tower retrieval alone (S3-Rec
protocol, beside the published table), training throughput and time to the reported quality,
query-tower latency per request on CPU, and the item embedding rate with the text encoder cold
(every title through MiniLM) and cached. ``--quick`` stops training after 4 epochs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.core.segment import Segment
from engine.core.settings import Settings
from engine.offline.evaluation.beauty_data import load_beauty
from engine.offline.evaluation.beauty_towers import (
    beauty_features,
    beauty_splits,
    read_titles,
    run_on,
)
from towers.artifact import load_artifact, save_artifact
from towers.data import query_batch
from towers.model import TowerConfig
from towers.retrieval import all_item_vectors
from towers.text import TextEncoder, item_text
from towers.train import TrainConfig

DEFAULT_CACHE = Path.home() / ".cache" / "shopnow" / "text-embeddings"


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="4 epochs, fewer latency samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None, help="holds amazon-beauty/")
    p.add_argument("--text-cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    root = args.data_dir or Settings().shared_data
    data_dir = root / "amazon-beauty"
    load0 = os.getloadavg()
    torch.set_num_threads(args.threads)
    out: dict[str, Any] = {"quick": args.quick, "threads": args.threads}

    data = load_beauty(data_dir)
    titles = read_titles(data_dir / "items.tsv", data.n_items)
    encoder = TextEncoder(args.text_cache, num_threads=args.threads)
    train_cfg = TrainConfig(
        seed=args.seed,
        lr=3e-3,
        max_epochs=4 if args.quick else 40,
        patience=3,
        num_threads=args.threads,
        progress=sys.stderr.isatty(),
    )
    report, res = run_on(data, titles, encoder, TowerConfig(), train_cfg, quick=args.quick)
    out["beauty"] = report.to_dict()
    out["training"] = {
        "examples_per_second": report.train_examples_per_second,
        "seconds_to_reported_quality": report.seconds_to_best,
        "best_epoch": report.best_epoch,
        "epochs_run": report.epochs_run,
    }

    # serving path: save, load, and time the query tower per request
    features = beauty_features(data, titles, encoder)
    with tempfile.TemporaryDirectory() as tmp:
        version = save_artifact(
            Path(tmp),
            res.model,
            train_config=train_cfg.model_dump(mode="json"),
            vocabularies={},
            metrics=report.test,
            training_window={"data": "amazon-beauty training prefixes (S3-Rec split)"},
            restricted_min_support=Settings().restricted_min_support,
        )
        art = load_artifact(Path(tmp), version)
    t0 = time.perf_counter()
    table = art.item_vectors(features)
    cached_s = time.perf_counter() - t0
    test = beauty_splits(data).test
    rng = np.random.default_rng(args.seed)
    users = rng.choice(len(test), 300 if args.quick else 2000, replace=False)
    qb = query_batch(test, users, max_history=50, max_session=1, text_dim=384)
    lat_feed: list[float] = []
    lat_search: list[float] = []
    qvec = encoder.encode(["moisturizing face cream for dry skin"])[0]
    for r in range(len(users)):
        hist = table[qb.history[r][qb.history[r] >= 0]]
        t = time.perf_counter()
        art.query_vector(history=hist, segment=Segment.heavy)
        lat_feed.append(time.perf_counter() - t)
        t = time.perf_counter()
        art.query_vector(history=hist, query_text=qvec, segment=Segment.heavy, context=[1])
        lat_search.append(time.perf_counter() - t)
    out["query_tower_latency"] = {
        "requests": len(users),
        "feed_history_only": _pct(lat_feed[10:]),
        "search_with_query_embedding": _pct(lat_search[10:]),
    }

    # item embedding rate: cold (a fresh in-memory cache: every title through MiniLM) vs cached
    n_cold = 200 if args.quick else 1000
    cold_rows = rng.choice(data.n_items, n_cold, replace=False)
    cold_enc = TextEncoder(None, num_threads=args.threads)
    t0 = time.perf_counter()
    cold_enc.encode(["warm up the model"])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    text = cold_enc.encode([item_text(titles[i]) for i in cold_rows])
    enc_s = time.perf_counter() - t0
    sub = features.take(cold_rows)
    t1 = time.perf_counter()
    art.item_vectors(type(sub).build(text, categories=sub.categories))
    tower_s = time.perf_counter() - t1
    q_lat: list[float] = []
    for q in ["red lipstick", "vitamin c serum", "dry shampoo", "nail polish remover"] * 10:
        t = time.perf_counter()
        cold_enc.encode_query(q + " " + str(len(q_lat)))
        q_lat.append(time.perf_counter() - t)
    out["item_embedding"] = {
        "cold_items": n_cold,
        "cold_items_per_second": n_cold / (enc_s + tower_s),
        "cold_text_encoder_items_per_second": n_cold / enc_s,
        "text_model_load_seconds_imports_done": load_s,
        "cached_items": data.n_items,
        "cached_items_per_second": data.n_items / cached_s,
        "query_text_encode": _pct(q_lat),
    }
    out["check_all_item_vectors_equal"] = bool(
        np.allclose(table, all_item_vectors(res.model, features).numpy(), atol=1e-5)
    )
    out["load_average"] = {"start": list(load0), "end": list(os.getloadavg())}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
