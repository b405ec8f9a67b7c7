"""Catalog changes from the ingest log into every candidate source: the engine's ingest sink.

``prepare`` validates each record (what fails goes to the dead letters with the reason),
applies upserts and deletes to the in-memory catalog in log order (an older version never
overwrites a newer one), and computes what the in-memory sources need: item-tower vectors of
changed items and their graph-space vectors. ``write`` then sends the batch's documents, built
from the catalog's current rows, to the search backend in one bulk request and refreshes it, so
lexical and vector search see them.

The item tower needs the MiniLM embedding of an item's text, and on a few CPU cores that is by
far the slowest step (tens of items per second per core, against thousands for the rest). So a
change whose text is already embedded (a price or stock update, a replay) gets its vector in
the batch, and a new text goes to the *vector lane*: the document is indexed at once without a
vector (lexical search, filters, popularity and graph see it within the batch), and the lane,
running beside the worker, embeds the waiting texts oldest first and writes the same version
again with its vector, which wins over the vector-less write (``protocol.write_order``). The log
checkpoint never passes a change whose vector is still owed, so a crash loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from engine.catalog import Catalog
from engine.contracts import Item
from ingest.deadletter import DeadLetters
from ingest.log import IngestLog, Record
from ingest.worker import APPLIED, DEAD, STALE, Outcome, Prepared, Transient
from search_plugins.protocol import IndexDoc, IndexUnavailable, SearchIndex

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.ingest")
FAILED = "failed"
Letter = tuple[str, str, Any]  # dead letter: where from, why, the record


@dataclass(slots=True)
class _Owed:
    """A row whose vector the lane owes: for this version, accepted at ``at`` (log time)."""

    version: int
    at: float
    offset: int


@dataclass(slots=True)
class _Batch:
    """What ``write`` sends: rows to (re)index and deletes, with the offsets behind each id."""

    rows: list[int] = field(default_factory=list)
    deletes: dict[str, int] = field(default_factory=dict)
    offsets_of: dict[str, list[int]] = field(default_factory=dict)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class CatalogWriter:
    def __init__(
        self,
        catalog: Catalog,
        index: SearchIndex,
        dead_letters: DeadLetters,
        *,
        towers: TowerServing | None = None,
        graph: GraphServing | None = None,
        on_catalog_change: Callable[[], None] = lambda: None,
        on_stage: Callable[[str, float], None] = lambda stage, seconds: None,
        on_freshness: Callable[[str, float], None] = lambda source, seconds: None,
        lane_batch: int = 64,
    ) -> None:
        self.catalog = catalog
        self.index = index
        self.dead_letters = dead_letters
        self.towers = towers
        self.graph = graph
        self.on_catalog_change = on_catalog_change
        self.on_stage = on_stage  # seconds per ingest stage and batch (metrics, benchmarks)
        self.on_freshness = on_freshness  # what the vector lane completes
        self.lane: dict[int, _Owed] = {}  # row -> vector owed, oldest first
        self.lane_batch = lane_batch
        self._lane_wake = asyncio.Event()

    # -- prepare ----------------------------------------------------------------------------
    async def prepare(self, records: Sequence[Record]) -> Prepared:
        t = time.perf_counter()
        outcomes: dict[int, Outcome] = {}
        batch = _Batch()
        changed: set[int] = set()
        run: list[tuple[int, Item]] = []  # consecutive upserts, applied together
        dead: list[Letter] = []
        accepted: dict[str, Record] = {}  # id -> its latest upsert record in the batch
        for rec in records:
            op = rec.body.get("op")
            if op == "upsert":
                try:
                    run.append((rec.offset, Item.model_validate(rec.body.get("item"))))
                    accepted[run[-1][1].id] = rec
                except ValidationError as exc:
                    self._dead(rec, _reason(exc), outcomes, dead)
                continue
            changed |= self._upserts(run, outcomes, batch)
            run = []
            if op == "delete":
                self._delete(rec, outcomes, batch, dead)
            else:
                self._dead(rec, f"unknown op {op!r}", outcomes, dead)
        changed |= self._upserts(run, outcomes, batch)
        self.dead_letters.add_many(dead)
        if changed:
            self.on_catalog_change()
        eligible: dict[str, float] = {"catalog": time.time()}
        t = self._stage("validate_and_catalog", t)
        deferred: set[int] = set()
        if changed:
            rows = np.fromiter(sorted(changed), np.int64, len(changed))
            if self.towers is not None:
                deferred = await self._vectors(rows, accepted)
                t = self._stage("item_tower", t)
            if self.graph is not None:
                self.graph.ensure(self.catalog, rows)
                eligible["graph"] = time.time()
                t = self._stage("graph", t)
        return Prepared(outcomes, eligible, batch, deferred, "two_tower")

    async def _vectors(self, rows: npt.NDArray[np.int64], accepted: dict[str, Record]) -> set[int]:
        """Vectors now for rows whose text is embedded; the others to the lane. Returns the
        offsets of the changes the lane completes."""
        towers = self.towers
        assert towers is not None
        cheap = towers.cheap(self.catalog, rows)
        for r in rows[cheap].tolist():
            self.lane.pop(r, None)  # a newer version with a known text: owed nothing
        if cheap.any():
            await asyncio.to_thread(towers.ensure, self.catalog, rows[cheap])
        late = rows[~cheap]
        if not len(late):
            return set()
        towers.forget(late)  # written without a vector until the lane has the new one
        deferred = set()
        for r in late.tolist():
            rec = accepted.get(self.catalog.ids[r])
            if rec is None:  # only a replay of the catalog's own state: owed from now
                rec = Record(-1, time.time(), {})
            self.lane.pop(r, None)
            self.lane[r] = _Owed(int(self.catalog.version.values[r]), rec.at, rec.offset)
            deferred.add(rec.offset)
        self._lane_wake.set()
        return deferred

    def _stage(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.on_stage(name, now - since)
        return now

    def _dead(
        self,
        rec: Record,
        reason: str,
        outcomes: dict[int, Outcome],
        dead: list[Letter],
    ) -> None:
        item = rec.body.get("item")
        item_id = str(item.get("id", "")) if isinstance(item, dict) else str(rec.body.get("id", ""))
        outcomes[rec.offset] = Outcome(item_id, DEAD, reason, str(rec.body.get("op", "")))
        dead.append((f"log offset {rec.offset}", reason, rec.body))

    def _upserts(
        self, run: list[tuple[int, Item]], outcomes: dict[int, Outcome], batch: _Batch
    ) -> set[int]:
        """Apply consecutive upserts; returns the catalog rows they changed."""
        if not run:
            return set()
        cat = self.catalog
        current: dict[str, int] = {}
        for off, it in run:
            row = cat.row_of.get(it.id)
            have = current.get(it.id, -1 if row is None else int(cat.version.values[row]))
            fresh = it.version > have
            if fresh:
                current[it.id] = it.version
            outcomes[off] = Outcome(it.id, APPLIED if fresh else STALE)
            batch.offsets_of.setdefault(it.id, []).append(off)
        res = cat.upsert([it for _, it in run])
        for r in res.applied:
            batch.deletes.pop(cat.ids[r], None)
        # A change the catalog already holds at exactly this version was replayed into it at
        # start (a crash after its log append, before the index checkpoint): index it again.
        replayed = {
            cat.row_of[it.id]
            for _, it in run
            if it.version == int(cat.version.values[cat.row_of[it.id]])
        }
        rows = {r for r in set(res.applied) | replayed if not cat.deleted.values[r]}
        batch.rows.extend(rows)
        return rows

    def _delete(
        self,
        rec: Record,
        outcomes: dict[int, Outcome],
        batch: _Batch,
        dead: list[Letter],
    ) -> None:
        try:
            item_id, version = str(rec.body["id"]), int(rec.body["version"])
        except (KeyError, TypeError, ValueError) as exc:
            self._dead(rec, f"delete needs 'id' and an integer 'version': {exc}", outcomes, dead)
            return
        done = self.catalog.delete(item_id, version)
        outcomes[rec.offset] = Outcome(item_id, APPLIED if done else STALE, op="delete")
        batch.offsets_of.setdefault(item_id, []).append(rec.offset)
        if done:
            batch.deletes[item_id] = version

    # -- write ------------------------------------------------------------------------------
    async def write(self, prepared: Prepared) -> dict[str, float]:
        batch: _Batch = prepared.payload
        cat = self.catalog
        rows = sorted({r for r in batch.rows if not cat.deleted.values[r]})
        docs = [self.doc(r) for r in rows]
        try:
            t = time.perf_counter()
            report = await self.index.upsert(docs) if docs else None
            for item_id, version in batch.deletes.items():
                await self.index.delete([item_id], version)
            t = self._stage("index_bulk", t)
            await self.index.refresh()
            self._stage("index_refresh", t)
        except IndexUnavailable as exc:
            raise Transient(str(exc)) from exc
        if report is not None and report.retryable:
            some = sorted(report.retryable)[:3]
            raise Transient(f"{len(report.retryable)} documents refused for now, e.g. {some}")
        if report is not None:
            for item_id, why in report.failed.items():
                for off in batch.offsets_of.get(item_id, []):
                    out = prepared.outcomes[off]
                    if out.status == APPLIED:
                        out.status, out.detail = FAILED, why
        now = time.time()
        eligible = {"bm25": now}
        if self.towers is not None:
            eligible["two_tower"] = now  # for the changes not deferred to the lane
        return eligible

    # -- the vector lane --------------------------------------------------------------------
    def oldest_pending(self) -> int | None:
        offsets = [o.offset for o in self.lane.values() if o.offset >= 0]
        return min(offsets) if offsets else None

    async def embed_step(self) -> int:
        """Embed and index the ``lane_batch`` oldest owed rows; returns how many rows left the
        lane (0 when the index refused: they stay owed)."""
        if not self.lane or self.towers is None:
            return 0
        cat = self.catalog
        take = list(self.lane.items())[: self.lane_batch]
        live = [
            (r, o)
            for r, o in take
            if int(cat.version.values[r]) == o.version and not cat.deleted.values[r]
        ]
        t = time.perf_counter()
        if live:
            rows = np.array([r for r, _ in live], np.int64)
            await asyncio.to_thread(self.towers.ensure, cat, rows)
        t = self._stage("vector_lane_embed", t)
        # a newer version may have come meanwhile: it replaced the row's entry, so skip it
        current = [(r, o) for r, o in live if self.lane.get(r) is o]
        try:
            report = await self.index.upsert([self.doc(r) for r, _ in current]) if current else None
            await self.index.refresh()
        except IndexUnavailable as exc:
            log.warning("vector lane: index unavailable, %d vectors wait: %s", len(current), exc)
            return 0
        if report is not None and report.retryable:
            return 0
        self._stage("vector_lane_index", t)
        now = time.time()
        for r, o in take:
            if self.lane.get(r) is o:
                del self.lane[r]
                if (r, o) in current:
                    self.on_freshness("two_tower", max(0.0, now - o.at))
                    self.on_freshness("all", max(0.0, now - o.at))
        return len(take)

    async def run_lane(self, idle_s: float = 1.0) -> None:
        """Work the lane as rows arrive, forever (cancel to stop)."""
        while True:
            moved = 0
            try:
                moved = await self.embed_step()
            except asyncio.CancelledError:
                raise
            except Exception:  # logged and retried; the rows stay owed
                log.exception("vector lane step failed")
            if moved == 0:
                if self.lane:
                    await asyncio.sleep(0.5)  # the index refused: back off
                    continue
                self._lane_wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lane_wake.wait(), idle_s)

    async def drain_lane(self) -> int:
        """Work the lane until empty or refused; returns the rows still owed."""
        while self.lane and await self.embed_step():
            pass
        return len(self.lane)

    def doc(self, row: int) -> IndexDoc:
        """The row's index document, with its vector of the served model when it has one."""
        t = self.towers
        vec = t.vector(row) if t is not None else None
        if t is None or vec is None:
            return self.catalog.index_doc(row)
        return self.catalog.index_doc(row, vec, t.version)

    async def persist(self) -> None:
        try:
            await self.index.persist()
        except IndexUnavailable as exc:
            raise Transient(str(exc)) from exc


def replay_catalog(catalog: Catalog, ingest_log: IngestLog) -> int:
    """Apply every logged change to the catalog (at start, before serving). Records that fail
    validation are skipped here (the worker dead-letters them). Returns how many applied."""
    n = 0
    run: list[Item] = []  # consecutive upserts go in together
    for rec in ingest_log.records():
        op = rec.body.get("op")
        try:
            if op == "upsert":
                run.append(Item.model_validate(rec.body["item"]))
            elif op == "delete":
                n += len(catalog.upsert(run).applied) if run else 0
                run = []
                n += catalog.delete(str(rec.body["id"]), int(rec.body["version"]))
        except (ValidationError, KeyError, TypeError, ValueError):
            continue
    return n + (len(catalog.upsert(run).applied) if run else 0)
