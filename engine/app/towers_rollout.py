"""A new two-tower model goes live by re-embedding the catalog into a new index generation
(blue/green), with no downtime and never two model versions in one request.

The index holds one vector per item, tagged with the model that produced it, and the two-tower
source asks only for vectors of the model it serves. So a new model cannot be served until the
index holds its vectors, and the old one cannot be served once it does. The rollout:

1. loads the published model and the item vectors its training saved (off the event loop,
   while serving and ingest go on);
2. holds ingest and the vector lane (changes are still accepted into the durable log and
   applied right after), computes the vectors the new model still lacks (items ingested since
   its training: full when their text is embedded already, provisional otherwise), and fills a
   new generation with every live item and its new vector, while searches keep answering from
   the old generation with the old model;
3. promotes the new generation (an atomic alias swap on OpenSearch, a directory and state
   swap on the embedded index) and, at once, swaps the model into the two-tower source, the
   ingest path and the vector lane (which then owes the full vectors of the provisional rows).

Between the promotion and the swap (one round trip) a request's model finds few of its
vectors: the source flags the response degraded rather than mixing versions
(:mod:`engine.serving.sources.two_tower`). The hold is the price of a simple consistent fill: ingest
waits for the fill (seconds for the demo's 50K items; see docs/monitoring.md for the size at
which it outgrows the freshness budget).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.core.search import IndexUnavailable
from engine.serving.assembly import complete_vectors
from engine.serving.writes import index_doc

if TYPE_CHECKING:
    from engine.serving.service import Engine
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.models")
BULK = 1000
PROBE_ATTEMPTS = 3


class RolloutFailed(RuntimeError):
    """The new generation could not be filled; the old model and generation stay served."""


@dataclass(frozen=True, slots=True)
class Rollout:
    previous: str | None
    version: str
    items: int
    completed_vectors: int  # rows the new model had no saved vector for
    held_s: float  # ingest and the vector lane waited this long
    seconds: float
    rebuilt: bool = True  # False: the index held the model's vectors already (adopted)


async def index_holds(engine: Engine, towers: TowerServing, probe: int = 10) -> bool:
    """Whether the index already answers with vectors of ``towers`` (another server rolled it
    out, or the index was built with it): a search with a live item's vector finds most of
    ``probe`` neighbours of that model."""
    catalog = engine.catalog
    live = np.flatnonzero(~catalog.deleted.values[: len(catalog)])
    if len(live) == 0:
        return False
    rows = live[:1].astype(np.int64)
    vec = await asyncio.to_thread(towers.compute, catalog, rows)
    for attempt in range(PROBE_ATTEMPTS):
        try:
            hits = await engine.index.vector(vec[0], probe, model=towers.version)
            break
        except IndexUnavailable as exc:
            # the first kNN search of a node loads its graphs and may outlast the search
            # timeout; a wrong answer here would rebuild a generation for nothing
            if attempt == PROBE_ATTEMPTS - 1:
                raise
            log.warning("towers %s: index probe failed (%s); again", towers.version, exc)
            await asyncio.sleep(1.0 + attempt)
    return len(hits) >= min(probe, len(live)) // 2 + 1


async def adopt_towers(engine: Engine, towers: TowerServing) -> Rollout:
    """Serve ``towers`` whose vectors the index holds already: complete its in-memory vectors
    (histories need them) and swap it in, ingest held meanwhile."""

    t0 = time.perf_counter()
    previous = engine.towers.version if engine.towers is not None else None
    async with _ingest_held(engine):
        held = time.perf_counter()
        completed = await asyncio.to_thread(
            complete_vectors, towers, engine.catalog, provisional=True
        )
        engine.models.towers.swap(towers)
        held_s = time.perf_counter() - held
    out = Rollout(previous, towers.version, 0, completed, held_s, time.perf_counter() - t0, False)
    log.info(
        "towers %s served (was %s), its vectors already indexed: %s", towers.version, previous, out
    )
    return out


@contextlib.asynccontextmanager
async def _ingest_held(engine: Engine) -> AsyncIterator[None]:
    lane = engine.writes.writer.lane
    async with engine.writes.worker.paused():
        if lane is None:
            yield
        else:
            async with lane.lock:
                yield


async def roll_out_towers(
    engine: Engine,
    towers: TowerServing,
    on_progress: Callable[[int, int], object] = lambda done, total: None,
) -> Rollout:
    """Serve ``towers`` after re-embedding the catalog into a new index generation."""

    t0 = time.perf_counter()
    previous = engine.towers.version if engine.towers is not None else None
    index, catalog = engine.index, engine.catalog
    async with _ingest_held(engine):
        held = time.perf_counter()
        completed = await asyncio.to_thread(complete_vectors, towers, catalog, provisional=True)
        n = len(catalog)
        live = np.flatnonzero(~catalog.deleted.values[:n]).astype(np.int64)
        await index.begin_generation()
        share = engine.settings.rollout_fill_share
        for start in range(0, len(live), BULK):
            rows = live[start : start + BULK].tolist()
            t = time.perf_counter()
            report = await index.fill([index_doc(catalog, towers, r) for r in rows])
            # leave the index (and this process) time for searches: the fill may use only
            # ``share`` of the wall clock
            await asyncio.sleep((time.perf_counter() - t) * (1 / share - 1))
            if report.failed or report.retryable:
                some = list(report.failed.items())[:3] or sorted(report.retryable)[:3]
                raise RolloutFailed(f"{len(report.failed)} items failed to index, e.g. {some}")
            on_progress(start + len(rows), len(live))
        await index.promote()
        engine.models.towers.swap(towers)
        held_s = time.perf_counter() - held
    await asyncio.to_thread(towers.save_vectors, catalog)  # a restart need not recompute them
    out = Rollout(previous, towers.version, len(live), completed, held_s, time.perf_counter() - t0)
    log.info("towers %s served (was %s): %s", towers.version, previous, out)
    return out
