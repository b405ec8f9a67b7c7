"""Catalog writes from the API: accepted into the durable ingest log, applied by the ingest
worker to the catalog, the index and every source, and reported per item."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.core.catalog import Catalog
from engine.core.contracts import Item
from engine.core.search import SearchIndex
from engine.core.settings import Settings
from engine.serving.cold_start import ColdStart
from engine.serving.metrics import Metrics
from engine.serving.models import ServedModels
from engine.serving.writes import OWED_VECTORS_FILE, CatalogWriter
from ingest.deadletter import DeadLetters
from ingest.log import IngestLog, delete_body, upsert_body
from ingest.worker import APPLIED, PENDING, STALE, IngestWorker, Transient


@dataclass
class ItemWriteReport:
    applied: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # durable; index write retried later


class ItemWrites:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        index: SearchIndex,
        *,
        models: ServedModels,
        cold_start: ColdStart,
        metrics: Metrics,
        on_catalog_change: Callable[[], None],
        ingest_log: IngestLog | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        directory = settings.ingest_path
        self.ingest_log = ingest_log or IngestLog(
            directory, settings.ingest_capacity, settings.ingest_checkpoint
        )

        def fresh(source: str, seconds: float) -> None:
            metrics.freshness.labels(source).observe(seconds)

        self.writer = CatalogWriter(
            catalog,
            index,
            DeadLetters(directory),
            models=models,
            cold_start=cold_start,
            on_catalog_change=on_catalog_change,
            on_stage=lambda st, sec: metrics.ingest_stage_seconds.labels(st).observe(sec),
            on_freshness=fresh,
            owed_path=directory / OWED_VECTORS_FILE,
        )
        self.writer.restore_owed()
        self.worker = IngestWorker(
            self.ingest_log,
            self.writer,
            batch_size=settings.ingest_batch,
            persist_every_s=settings.ingest_persist_s,
            on_freshness=fresh,
            on_outcome=lambda status: metrics.ingested.labels(status).inc(),
            on_poison=lambda offset, reason: metrics.ingest_poison.inc(),
        )

    def towers_swapped(self) -> None:
        """The vector lane owes the rows whose vector of the new model is provisional."""
        if self.writer.lane is not None:
            self.writer.lane.owed.clear()  # owed vectors of the old model
            self.writer.restore_owed(from_checkpoint=False)

    async def upsert(
        self, items: Sequence[Item], *, wait_s: float | None = None
    ) -> ItemWriteReport:
        """Accept ``items`` into the ingest log (durable once this returns, or
        :class:`~ingest.log.LogFull`), then wait up to ``wait_s`` (default: the setting) for them
        to reach every source; what has not by then is reported pending."""
        bodies = [upsert_body(it.model_dump(mode="json")) for it in items]
        return await self._submit(bodies, wait_s)

    async def delete(self, item_id: str, version: int) -> bool:
        """False when the catalog holds a newer version (nothing is logged then)."""
        row = self.catalog.row_of.get(item_id)
        if row is None or int(self.catalog.version.values[row]) > version:
            return False
        rep = await self._submit([delete_body(item_id, version)], None)
        return not rep.stale

    async def _submit(self, bodies: list[dict[str, Any]], wait_s: float | None) -> ItemWriteReport:
        offsets = await self.worker.accept(bodies)
        wait = self.settings.ingest_wait_s if wait_s is None else wait_s
        if wait > 0:
            await self.worker.until(offsets[-1], wait)
        report = ItemWriteReport()
        done = self.worker.outcomes(offsets)
        for off, body in zip(offsets, bodies, strict=True):
            out = done.get(off)
            item_id = body["item"]["id"] if body["op"] == "upsert" else body["id"]
            if out is None or out.status == PENDING:
                report.pending.append(item_id)
            elif out.status == APPLIED:
                report.applied.append(item_id)
            elif out.status == STALE:
                report.stale.append(item_id)
            else:
                report.failed[item_id] = out.detail or out.status
        return report

    @property
    def backlog(self) -> int:
        """Accepted catalog changes not yet applied, plus item vectors still owed."""
        return self.worker.lag + self.writer.owed

    async def drain(self) -> int:
        """Apply every accepted change and compute every owed vector now, then checkpoint;
        returns how many still wait (the index refusing writes)."""
        await self.worker.drain()
        if self.writer.lane is not None:
            await self.writer.lane.drain()
            await self.writer.persist()  # the lane's writes durable, the owed list current
        return self.backlog

    async def close(self) -> None:
        await self.worker.drain()
        if self.writer.lane is not None:  # what the lane still owes, for the next start
            with contextlib.suppress(Transient):
                await self.writer.persist()
