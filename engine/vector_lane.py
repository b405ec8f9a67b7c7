"""The vector lane: item-tower vectors of new texts, computed beside the ingest worker.

The item tower needs the MiniLM embedding of an item's text, and on a few CPU cores that is by
far the slowest step of ingest (tens of items per second per core, against thousands for the
rest). A new text's document is therefore indexed at once without a vector, and the lane owes
it one: it embeds owed rows oldest first, a batch at a time, and writes the same version again
with its vector, which wins over the vector-less write (``protocol.write_order``). A newer
version of a row replaces what is owed for it; the ingest checkpoint never passes an offset
whose vector is still owed, so a crash loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.catalog import Catalog
from ltr.aggregates import ItemAggregates
from search_plugins.protocol import IndexDoc, IndexUnavailable, SearchIndex

if TYPE_CHECKING:
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.ingest")
Hook = Callable[[str, float], None]


@dataclass(slots=True)
class Owed:
    """A row's vector, owed for this version of it, accepted at ``at`` (log time)."""

    version: int
    at: float
    offset: int  # in the ingest log; -1 when no record stands behind it (a start-up replay)


class VectorLane:
    def __init__(
        self,
        catalog: Catalog,
        index: SearchIndex,
        towers: TowerServing,
        doc: Callable[[int], IndexDoc],
        *,
        on_stage: Hook,
        on_freshness: Hook,
        batch: int = 64,
    ) -> None:
        self.catalog, self.index, self.towers, self.doc = catalog, index, towers, doc
        self.on_stage, self.on_freshness = on_stage, on_freshness
        self.batch = batch
        self.owed: dict[int, Owed] = {}  # row -> what is owed, oldest first
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self.owed)

    def settle(self, row: int) -> None:
        """The row got its vector another way (a newer version whose text was embedded)."""
        self.owed.pop(row, None)

    def owe(self, row: int, version: int, at: float, offset: int) -> None:
        self.owed.pop(row, None)  # to the end: the newest version is owed last
        self.owed[row] = Owed(version, at, offset)
        self._wake.set()

    def oldest_pending(self) -> int | None:
        offsets = [o.offset for o in self.owed.values() if o.offset >= 0]
        return min(offsets) if offsets else None

    async def step(self) -> int:
        """Embed and index the ``batch`` oldest owed rows; returns how many left the lane (0
        when the index refused: they stay owed)."""
        if not self.owed:
            return 0
        cat = self.catalog
        take = list(self.owed.items())[: self.batch]
        live = [
            (r, o)
            for r, o in take
            if int(cat.version.values[r]) == o.version and not cat.deleted.values[r]
        ]
        t = time.perf_counter()
        if live:
            rows = np.array([r for r, _ in live], np.int64)
            # Whole-catalog aggregates here, on the event loop: the ingest worker grows the
            # catalog's columns on this loop, so a thread must only read single rows.
            aggs = ItemAggregates.build(cat, self.towers.featurizer.min_support)
            await asyncio.to_thread(self.towers.ensure, cat, rows, aggs)
        self.on_stage("vector_lane_embed", time.perf_counter() - t)
        t = time.perf_counter()
        # a newer version may have come meanwhile: it replaced the row's entry, so skip it
        current = [(r, o) for r, o in live if self.owed.get(r) is o]
        try:
            report = await self.index.upsert([self.doc(r) for r, _ in current]) if current else None
            await self.index.refresh()
        except IndexUnavailable as exc:
            log.warning("vector lane: index unavailable, %d vectors wait: %s", len(current), exc)
            return 0
        if report is not None and report.retryable:
            return 0
        self.on_stage("vector_lane_index", time.perf_counter() - t)
        now = time.time()
        written = {r for r, _ in current}
        for r, o in take:
            if self.owed.get(r) is o:
                del self.owed[r]
                if r in written:
                    self.on_freshness("two_tower", max(0.0, now - o.at))
                    self.on_freshness("all", max(0.0, now - o.at))
        return len(take)

    async def run(self, idle_s: float = 1.0) -> None:
        """Work the lane as rows arrive, forever (cancel to stop)."""
        while True:
            moved = 0
            try:
                moved = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # logged and retried; the rows stay owed
                log.exception("vector lane step failed")
            if moved == 0:
                if self.owed:
                    await asyncio.sleep(0.5)  # the index refused: back off
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_s)

    async def drain(self) -> int:
        """Work the lane until empty or refused; returns the rows still owed."""
        while self.owed and await self.step():
            pass
        return len(self.owed)
