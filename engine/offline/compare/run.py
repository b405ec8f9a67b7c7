"""``shopnow compare``: prepare what is missing, measure the three variants, decide, report."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.core.settings import Settings
from engine.offline.compare import freshness, funnel, render
from engine.offline.compare.cost import CostInputs, bytes_per_item, project
from engine.offline.compare.intervals import annotate
from engine.offline.compare.offline import run_offline
from engine.offline.compare.recommend import Constraints, recommend
from engine.offline.compare.variants import VARIANTS
from engine.offline.train import build_index, train, train_graph, train_towers
from engine.serving.assembly import SERVE_WINDOW
from synth.generate import generate


class CompareInputs(BaseModel):
    """Everything the decision depends on that is not measured (``--inputs FILE``, JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    constraints: Constraints = Field(default_factory=Constraints)
    cost: CostInputs = Field(default_factory=CostInputs)


def _dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def measured_bytes(settings: Settings, items: int) -> dict[str, float]:
    """Bytes per item of what each source keeps, from the files on disk."""
    n = max(items, 1)
    return {
        "catalog": _dir_bytes(settings.data_dir / "items.jsonl") / n,
        "lexical": _dir_bytes(settings.index_dir / "tantivy") / n,
        "graph": _dir_bytes(settings.graph_dir) / n / 2,  # two windows are kept, one is served
        "covis": _dir_bytes(settings.model_dir / "covis.npz") / n,
    }


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {mem:.0f} GiB, Python {py}"


def prepare(
    settings: Settings, *, items: int, events: int, quick: bool, progress: bool
) -> list[str]:
    """Synthesise (only when the data directory has no events: imported data is used as it is)
    and train what the comparison needs and is missing (``quick``: fewer epochs and ranker
    requests); returns what it did."""

    done = []
    if not (settings.data_dir / "events.npz").exists():
        print(f"compare: synthesising {items:,} items, {events:,} events", flush=True)
        generate(settings.data_dir, n_items=items, n_events=events, seed=0, progress=progress)
        done.append("synth")
    if not (settings.towers_dir / "CURRENT").is_file():
        print("compare: training the two towers", flush=True)
        train_towers(settings, max_epochs=3 if quick else 10, progress=progress)
        done.append("train-towers")
    if not (settings.graph_dir / SERVE_WINDOW / "meta.json").is_file():  # what serving loads
        print("compare: training the graph model", flush=True)
        train_graph(settings, max_epochs=10 if quick else 30, progress=progress)
        done.append("train-graph")
    if done or not (settings.model_dir / "signals").exists():
        print("compare: indexing", flush=True)
        asyncio.run(build_index(settings, progress=progress))
        done.append("index")
    if done or not (settings.model_dir / "ranker" / "CURRENT").is_file():
        print("compare: training the ranker (every source among its features)", flush=True)
        asyncio.run(train(settings, max_requests=1500 if quick else 8000, progress=progress))
        done.append("train")
    return done


def assemble(
    offline: dict[str, Any],
    measured_freshness: dict[str, Any],
    mem: dict[str, float],
    inputs: CompareInputs,
) -> dict[str, Any]:
    """Add freshness and cost to each variant, then the recommendation (its significance from
    the per-request ``offline["sample"]`` when there is one), the paired intervals of every
    quality and outcome figure, and the funnel flags."""
    sample = offline.get("sample")
    offline = {k: v for k, v in offline.items() if k != "sample"}
    variants = offline["variants"]
    exposure = offline.get("new_item_exposure", {})
    for name, v in variants.items():
        srcs = tuple(v["sources"])
        if name in exposure:
            v["new_item_exposure"] = exposure[name].get("all")
        v["freshness"] = freshness.per_variant(srcs, measured_freshness)
        v["cost"] = project(
            v["cpu_ms_per_request"] or 0.0,
            bytes_per_item(srcs, mem, inputs.cost.vector_dim),
            v["maintainability"]["jobs"],
            inputs.cost,
            embeds_text="two_tower" in srcs,
        )
    c = inputs.constraints
    rec = recommend(variants, c, sample)
    intervals: dict[str, Any] = {"method": "none: no per-request figures"}
    if sample is not None:
        annotate(variants, sample, rec["leader"], replicates=c.replicates, confidence=c.confidence)
        n_req, n_users = sample.counts()
        intervals = {
            "method": "paired bootstrap over users (all of a user's requests drawn together, "
            "the same draws for every variant), percentile intervals",
            "replicates": c.replicates,
            "confidence": c.confidence,
            "requests": n_req,
            "users": n_users,
            "leader": rec["leader"],
        }
    return {
        **offline,
        "freshness": measured_freshness,
        "bytes_per_item": {k: round(b, 1) for k, b in mem.items()},
        "recommendation": rec,
        "intervals": intervals,
        "funnel_flags": funnel.flags(variants),
        "inputs": inputs.model_dump(),
        "sample": sample,
    }


def compare(
    settings: Settings,
    out_dir: Path,
    *,
    inputs: CompareInputs | None = None,
    requests: int = 3000,
    items: int = 50_000,
    events: int = 500_000,
    fresh_items: int = 300,
    quick: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    inputs = inputs or CompareInputs()
    t0 = time.perf_counter()
    prepared = prepare(settings, items=items, events=events, quick=quick, progress=progress)
    print(f"compare: {len(VARIANTS)} variants on up to {requests:,} held-out requests", flush=True)
    offline = asyncio.run(
        run_offline(
            settings, max_requests=requests, replicates=40 if quick else 100, progress=progress
        )
    )
    print(f"compare: freshness, {fresh_items} new items through ingest", flush=True)
    fresh = asyncio.run(freshness.measure(settings, items=fresh_items))
    report = assemble(offline, fresh, measured_bytes(settings, offline["items"]), inputs)
    report |= {
        "data": str(settings.data_dir),
        "machine": machine(),
        "prepared": prepared,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    paths = render.write(report, out_dir)
    print(json.dumps({k: str(p) for k, p in paths.items()}), flush=True)
    return report
