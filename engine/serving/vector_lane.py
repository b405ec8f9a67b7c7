"""The vector lane: full item-tower vectors of new texts, computed beside the ingest worker.

The item tower needs the MiniLM embedding of an item's text, and on a few CPU cores that is by
far the slowest step of ingest (tens to a few hundred items per second per core, against
thousands for the rest). A new text's document is therefore indexed at once with a
*provisional* vector, computed from the item's attributes alone (:mod:`towers.item_tower`), so
it is eligible for two-tower retrieval within the batch; the lane owes it the full vector: it
embeds owed rows oldest first, a batch at a time, and writes the same version again with the
full vector, which wins over the provisional write (``protocol.write_order``). A newer version
of a row replaces what is owed for it.

What is owed is saved with every ingest checkpoint (``save``), before the checkpoint moves, and
re-owed at start (``load``): a crash loses no full vector, and the lane never holds back the
log checkpoint, so a burst of new texts cannot fill the log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from engine.core.catalog import Catalog
from engine.core.loops import run_forever
from engine.core.search import IndexDoc, IndexUnavailable, SearchIndex
from engine.serving.models import ModelHolder
from ltr.aggregates import ItemAggregates

if TYPE_CHECKING:
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.ingest")
Hook = Callable[[str, float], None]
FULL_SOURCE = "two_tower_full"  # freshness label of full vectors (provisional: "two_tower")


@dataclass(slots=True)
class Owed:
    """A row's full vector, owed for this version of it, accepted at ``at`` (log time)."""

    version: int
    at: float


class VectorLane:
    def __init__(
        self,
        catalog: Catalog,
        index: SearchIndex,
        towers: ModelHolder[TowerServing],
        doc: Callable[[int], IndexDoc],
        *,
        on_stage: Hook,
        on_freshness: Hook,
        batch: int = 64,
    ) -> None:
        self.catalog, self.index, self.model, self.doc = catalog, index, towers, doc
        self.on_stage, self.on_freshness = on_stage, on_freshness
        self.batch = batch
        self.owed: dict[int, Owed] = {}  # row -> what is owed, oldest first
        self._wake = asyncio.Event()
        self.lock = asyncio.Lock()  # one step at a time; a towers rollout holds it

    def __len__(self) -> int:
        return len(self.owed)

    @property
    def towers(self) -> TowerServing | None:
        """The served model, whose vectors the lane computes (read once per batch)."""
        return self.model.current

    def settle(self, row: int) -> None:
        """The row gets its full vector another way (a newer version whose text is embedded)."""
        self.owed.pop(row, None)

    def owe(self, row: int, version: int, at: float) -> None:
        self.owed.pop(row, None)  # to the end: the newest version is owed last
        self.owed[row] = Owed(version, at)
        self._wake.set()

    def oldest_age(self, now: float | None = None) -> float:
        """Seconds since the oldest owed change was accepted (0 when nothing is owed)."""
        if not self.owed:
            return 0.0
        first = next(iter(self.owed.values()))
        return max(0.0, (now or time.time()) - first.at)

    # -- durability -------------------------------------------------------------------------
    def snapshot(self) -> list[tuple[str, int, float]]:
        """What is owed now, as (id, version, accepted at): taken on the event loop."""
        ids = self.catalog.ids
        return [(ids[r], o.version, o.at) for r, o in self.owed.items()]

    @staticmethod
    def save(path: Path, owed: list[tuple[str, int, float]]) -> None:
        """Write a :meth:`snapshot` atomically (off the event loop: it can be large); the
        checkpoint may then pass the changes behind it."""
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.write(orjson.dumps({"owed": owed}))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def load(self, path: Path) -> int:
        """Owe again what ``save`` wrote, for the rows still live; returns how many. A row the
        catalog now holds in a newer version is owed at that version (its text may be new)."""
        if not path.is_file():
            return 0
        saved = orjson.loads(path.read_bytes())["owed"]
        cat, n = self.catalog, 0
        for item_id, _version, at in saved:
            row = cat.row_of.get(str(item_id))
            if row is not None and not cat.deleted.values[row]:
                self.owe(row, int(cat.version.values[row]), float(at))
                n += 1
        return n

    # -- work -------------------------------------------------------------------------------
    async def step(self) -> int:
        """Embed and index the ``batch`` oldest owed rows; returns how many left the lane (0
        when the index refused: they stay owed)."""
        async with self.lock:
            return await self._step()

    async def _step(self) -> int:
        if not self.owed:
            return 0
        cat = self.catalog
        take = list(itertools.islice(self.owed.items(), self.batch))
        live = [
            (r, o)
            for r, o in take
            if int(cat.version.values[r]) == o.version and not cat.deleted.values[r]
        ]
        t = time.perf_counter()
        current: list[int] = []
        if live:
            rows = np.array([r for r, _ in live], np.int64)
            # Whole-catalog aggregates here, on the event loop: the ingest worker grows the
            # catalog's columns on this loop, so a thread must only read single rows.
            towers = self.model.current
            if towers is None:  # never: a lane exists only beside a served model
                raise RuntimeError("the vector lane has no towers model")
            aggs = ItemAggregates.build(cat, towers.featurizer.min_support)
            vecs = await asyncio.to_thread(towers.compute, cat, rows, aggs)
            # Kept only for rows no newer version replaced meanwhile (back on the loop, so the
            # worker cannot interleave): a newer one is owed again, or got its vector already.
            keep = np.array([self.owed.get(r) is o for r, o in live], np.bool_)
            towers.put(rows[keep], vecs[keep], full=True)
            current = rows[keep].tolist()
        self.on_stage("vector_lane_embed", time.perf_counter() - t)
        t = time.perf_counter()
        try:
            report = await self.index.upsert([self.doc(r) for r in current]) if current else None
            await self.index.refresh()
        except IndexUnavailable as exc:
            log.warning("vector lane: index unavailable, %d vectors wait: %s", len(current), exc)
            return 0
        if report is not None and report.retryable:
            return 0
        self.on_stage("vector_lane_index", time.perf_counter() - t)
        now = time.time()
        written = set(current)
        for r, o in take:
            if self.owed.get(r) is o:
                del self.owed[r]
                if r in written:
                    self.on_freshness(FULL_SOURCE, max(0.0, now - o.at))
        return len(take)

    async def run(self, idle_s: float = 1.0) -> None:
        """Work the lane as rows arrive, forever (cancel to stop). A failed step is logged and
        retried, the rows stay owed; rows owed but not moved (the index refused): back off."""
        await run_forever(
            self.step,
            what="vector lane step",
            log=log,
            idle=idle_s,
            wake=self._wake,
            backoff=lambda: 0.5 if self.owed else 0.0,
        )

    async def drain(self) -> int:
        """Work the lane until empty or refused; returns the rows still owed."""
        while self.owed and await self.step():
            pass
        return len(self.owed)
