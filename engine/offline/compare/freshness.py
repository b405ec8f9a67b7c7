"""Freshness per candidate source, measured: new items pushed through the real ingest path of
an engine opened on a scratch copy of the index (the user's index and log are not touched),
timed from acceptance to eligibility in each source.

Behaviour-based sources (co-visitation, popularity, trending, bought-together) cannot propose
an item nobody has interacted with, whatever the pipeline's speed: for them a new item is
eligible only after its first events, which the report says instead of a figure."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from engine.core.contracts import Item
from engine.core.settings import Settings
from engine.offline.train import build_index
from engine.serving.assembly import open_engine

#: source -> the freshness label the ingest path reports for it
CONTENT_SOURCES = {
    "bm25": "bm25",
    "two_tower": "two_tower",
    "graph": "graph",
    "new_arrivals": "new_arrivals",
}
BEHAVIOUR_SOURCES = ("covis", "popular", "trending", "popular_in_context", "bought_together")
SURFACE_SOURCES = {  # content sources that serve each surface
    "feed": ("two_tower", "graph", "new_arrivals"),
    "search": ("bm25", "two_tower"),
}


def templates(settings: Settings, n: int) -> list[dict[str, Any]]:
    """The first ``n`` items of the catalog file, as dicts to derive new items from."""
    out = []
    with (settings.data_dir / "items.jsonl").open("rb") as fh:
        for line in fh:
            out.append(orjson.loads(line))
            if len(out) == n:
                break
    return out


def new_item(template: dict[str, Any], k: int, tag: str) -> Item:
    """A new item like ``template``, created now, with a title word no other item has (so its
    text is never in the embedding cache: the slow path)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return Item.model_validate(
        template
        | {
            "id": f"nrt-{tag}-{k}",
            "title": f"{template['title']} zq{k}{tag}x",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    if not a.size:
        return {"n": 0}
    p50, p99 = np.percentile(a, [50, 99])
    return {"n": int(a.size), "p50_s": round(float(p50), 3), "p99_s": round(float(p99), 3)}


async def measure(
    settings: Settings, *, items: int = 300, batch: int = 50, rate: float = 200.0
) -> dict[str, Any]:
    """Per freshness label, p50/p99 seconds from acceptance to eligibility, with ``items`` new
    items accepted in batches at ``rate`` items/s; ``two_tower_full`` is timed until the vector
    lane has written the full vectors (it is drained at the end)."""

    seen: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="shopnow-fresh-") as tmp:
        scratch = Path(tmp)
        if settings.search_backend == "embedded" and settings.index_dir.exists():
            shutil.copytree(settings.index_dir, scratch / "index")
        s = settings.model_copy(
            update={
                "index_dir": scratch / "index",
                "ingest_dir": scratch / "ingest",
                "opensearch_alias": f"{settings.opensearch_alias}-fresh",
            }
        )
        if settings.search_backend != "embedded":
            await build_index(s, progress=False)
        engine = await open_engine(s, warm=False)

        def on_fresh(source: str, seconds: float) -> None:
            seen[source].append(seconds)

        engine.writes.worker.on_freshness = engine.writes.writer.on_freshness = on_fresh
        worker = asyncio.create_task(engine.writes.worker.run(idle_s=0.02))
        try:
            base = templates(s, batch)
            tag = f"c{secrets.token_hex(3)}"  # texts no run embedded before: the slow path
            t0 = time.monotonic()
            for k in range(0, items, batch):
                size = min(batch, items - k)
                chunk = [new_item(base[j % len(base)], k + j, tag) for j in range(size)]
                await engine.writes.upsert(chunk, wait_s=0)
                await asyncio.sleep(max(0.0, t0 + (k + size) / rate - time.monotonic()))
            while engine.writes.worker.lag:
                await asyncio.sleep(0.02)
            if engine.writes.writer.lane is not None:
                await engine.writes.writer.lane.drain()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await engine.close()
    return {label: _pct(v) for label, v in sorted(seen.items())}


def per_variant(sources: tuple[str, ...], measured: dict[str, Any]) -> dict[str, Any]:
    """What a brand-new item gets from the variant: per surface, the fastest content source
    that serves it and its p99 (None: no source can propose a new item on that surface)."""
    out: dict[str, Any] = {}
    for surface, serving in SURFACE_SOURCES.items():
        best: tuple[float, str] | None = None
        for src in serving:
            if src not in sources:
                continue
            p99 = measured.get(CONTENT_SOURCES[src], {}).get("p99_s")
            if p99 is not None and (best is None or p99 < best[0]):
                best = (float(p99), src)
        out[surface] = (
            {"source": best[1], "p99_s": best[0]} if best else {"source": None, "p99_s": None}
        )
    out["behaviour_only"] = [s for s in sources if s in BEHAVIOUR_SOURCES]
    return out
