"""Build time of the item-to-item tables `shopnow index` makes, as the catalog grows:
``python -m bench.tables_bench [--quick] [--items N ...] [--events N]``; prints JSON.

For each size, a synthetic world (``--events`` events, 20,000 by default: the content table
reads the catalog only, the session tables the events) and the wall time and peak memory
of the content table (title tf-idf and attribute cosine over every pair of items,
`engine/core/retrieval/content.py`) and of the three session tables (symmetric,
sequential, basket: `engine/offline/replay.py`). Full: 20K, 50K, 100K and 1M items; quick:
5K and 10K. Up to ``ContentParams.exact_max_items`` the content build compares every pair
(time growing with the square of the catalog); beyond, only pairs sharing a rare id (the
``build`` column says which). ``--check-exact`` also builds the exact table of each pruned
size (slow: every pair) and reports what the pruning loses: the share of each item's exact
top 10 the pruned table has, and the exact similarity of the pruned top 10 over the exact
top 10's (1,000 items sampled).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.retrieval.content import ContentParams, ContentSimilarity
from engine.core.settings import Settings
from engine.offline.replay import build_signals
from engine.offline.train import content_table
from engine.serving.assembly import load_catalog
from synth import generate
from synth.dataset import load_dataset


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pruning_loss(
    pruned: ContentSimilarity, exact: ContentSimilarity, sample: int = 1000
) -> dict[str, float]:
    """What the pruned table loses against the exact one, over ``sample`` items."""
    n = exact.n_items
    recall, kept = [], []
    for row in range(0, n, max(1, n // sample)):
        best = exact.neighbours[row]
        if best.nnz == 0:
            continue
        top = best.indices[np.argsort(-best.data, kind="stable")[:10]]
        found = pruned.neighbours[row].indices.astype(np.int64)
        recall.append(float(np.isin(top, found).mean()))
        scores = exact.pair_scores(row, found)
        ours = np.sort(scores)[::-1][:10].mean() if len(found) else 0.0
        kept.append(float(ours / np.sort(best.data)[::-1][:10].mean()))
    return {
        "recall_of_exact_top10": round(float(np.mean(recall)), 3),
        "exact_score_of_pruned_top10_over_exact_top10": round(float(np.mean(kept)), 3),
    }


def one(n_items: int, n_events: int, root: Path, check_exact: bool = False) -> dict[str, Any]:
    out = root / f"w{n_items}"
    generate(out, n_items=n_items, n_events=n_events, seed=0, progress=False)
    catalog = load_catalog(Settings(data_dir=out))
    ds = load_dataset(out)
    t0 = time.perf_counter()
    content = content_table(catalog)
    t_content = time.perf_counter() - t0
    peak = _rss_mb()
    t0 = time.perf_counter()
    build_signals(ds, catalog, float(ds.meta["split_ts"]))
    t_sessions = time.perf_counter() - t0
    checked: dict[str, float] = {}
    if check_exact and n_items > ContentParams().exact_max_items:
        t0 = time.perf_counter()
        exact = ContentSimilarity.build(
            catalog.tokens, catalog.attributes, len(catalog), ContentParams(exact_max_items=n_items)
        )
        checked = {"exact_s": round(time.perf_counter() - t0, 2), **pruning_loss(content, exact)}
    return {
        **checked,
        "items": n_items,
        "events": n_events,
        "build": "exact" if n_items <= ContentParams().exact_max_items else "pruned",
        "content_s": round(t_content, 2),
        "content_neighbour_entries": int(content.neighbours.nnz),
        "peak_rss_mb": round(peak, 1),  # the process's, so far: sizes run smallest first
        "signals_and_session_tables_s": round(t_sessions, 2),
    }


def run(sizes: Sequence[int], n_events: int, check_exact: bool = False) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="tables-bench-"))
    try:
        rows = []
        for n in sizes:
            rows.append(one(n, n_events, root, check_exact))
            print(json.dumps(rows[-1]), flush=True)  # progress: one line per size
        base = rows[0]
        growth = [
            round(r["content_s"] / max(base["content_s"], 1e-9), 1) for r in rows
        ]  # against the first size
        return {"sizes": rows, "content_time_vs_first": growth}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="5K and 10K items")
    p.add_argument("--items", type=int, nargs="+", help="catalog sizes (default 20K 50K 100K 1M)")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--check-exact", action="store_true", help="pruned sizes: the exact table too")
    a = p.parse_args(argv)
    sizes = a.items or ([5_000, 10_000] if a.quick else [20_000, 50_000, 100_000, 1_000_000])
    print(json.dumps(run(sizes, a.events, a.check_exact), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
