"""Catalog changes from the ingest log into every candidate source: the engine's ingest sink.

``prepare`` validates each record (what fails goes to the dead letters with the reason),
applies upserts and deletes to the in-memory catalog in log order (an older version never
overwrites a newer one), and computes what the in-memory sources need: item-tower vectors of
changed items and their graph-space vectors, and the cold-start priors of new items in the
online store (``engine/serving/cold_start.py``). ``write`` then sends the batch's documents, built
from the catalog's current rows, to the search backend in one bulk request and refreshes it, so
lexical and vector search see them.

A change whose text is already embedded (a price or stock update, a replay) gets its full
item-tower vector in the batch; a new text gets a provisional one (from its attributes, no
text-model pass), so every change is eligible for two-tower retrieval within its batch, and the
vector lane (``engine/serving/vector_lane.py``) follows with the full vector.

A batch the worker gives up on as it is (``discard``: it failed deterministically and is
applied again one record at a time, or its one record is poison) and a ``prepare`` that raises
half-way leave the catalog as it was before the batch: every row the batch changed is put back,
every row it added is forgotten (deleted, at no version). A poison record then goes to the
dead letters (``reject``); records found there are skipped, here and by ``replay_catalog``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from engine.core.catalog import Catalog, RowState
from engine.core.contracts import MAX_VERSION, Item
from engine.core.online_store import StoreUnavailable
from engine.core.search import IndexDoc, IndexUnavailable, SearchIndex
from engine.serving.models import ServedModels
from engine.serving.vector_lane import VectorLane
from ingest.deadletter import DeadLetters, DeadLog, log_source
from ingest.log import IngestLog, Record
from ingest.worker import APPLIED, DEAD, STALE, Outcome, Prepared, Transient
from ltr.aggregates import ItemAggregates

if TYPE_CHECKING:
    from engine.serving.cold_start import ColdStart
    from graph.serving import GraphServing
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.ingest")
FAILED = "failed"
OWED_VECTORS_FILE = "owed-vectors.json"  # in the ingest directory, beside the log
Letter = tuple[str, str, Any]  # dead letter: where from, why, the record


@dataclass(slots=True)
class _Undo:
    """How to put the catalog back as it was before a batch: the rows it changed as they were
    (first change only), and the first row it added (rows from there on are new)."""

    first_new: int
    rows: dict[int, RowState] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    """What ``write`` sends: rows to (re)index and deletes, with the offsets behind each id;
    and how to undo the batch in the catalog."""

    undo: _Undo
    rows: list[int] = field(default_factory=list)
    deletes: dict[str, int] = field(default_factory=dict)
    offsets_of: dict[str, list[int]] = field(default_factory=dict)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _delete_of(body: dict[str, Any]) -> tuple[str, int]:
    """The id and version of a delete record; raises ValueError (or KeyError, TypeError)
    naming what is wrong."""
    item_id, version = str(body["id"]), int(body["version"])
    if not 0 <= version <= MAX_VERSION:  # the contract's bound, as for upserts
        raise ValueError(f"version {version} outside 0..{MAX_VERSION}")
    return item_id, version


class CatalogWriter:
    def __init__(
        self,
        catalog: Catalog,
        index: SearchIndex,
        dead_letters: DeadLetters,
        *,
        models: ServedModels | None = None,
        cold_start: ColdStart | None = None,
        on_catalog_change: Callable[[], None] = lambda: None,
        on_stage: Callable[[str, float], None] = lambda stage, seconds: None,
        on_freshness: Callable[[str, float], None] = lambda source, seconds: None,
        owed_path: Path | None = None,
    ) -> None:
        self.catalog = catalog
        self.index = index
        self.dead_letters = dead_letters
        self.models = models or ServedModels.of()
        self.cold_start = cold_start  # new items' priors into the online store
        self.on_catalog_change = on_catalog_change
        self.on_stage = on_stage  # seconds per ingest stage and batch (metrics, benchmarks)
        self.on_freshness = on_freshness  # what the vector lane completes
        self.owed_path = owed_path  # the lane's owed vectors, saved with each checkpoint
        self.dead_log: DeadLog = dead_letters.from_log()  # log records never to apply
        self.lane: VectorLane | None = None
        if self.models.towers.current is not None:
            # its hooks look the writer's up at each call (benchmarks wrap them)
            self.lane = VectorLane(
                catalog,
                index,
                self.models.towers,
                self.doc,
                on_stage=lambda st, sec: self.on_stage(st, sec),
                on_freshness=lambda src, sec: self.on_freshness(src, sec),
            )

    @property
    def towers(self) -> TowerServing | None:
        return self.models.towers.current

    @property
    def graph(self) -> GraphServing | None:
        return self.models.graph.current

    # -- prepare ----------------------------------------------------------------------------
    async def prepare(self, records: Sequence[Record]) -> Prepared:
        """Apply ``records`` to the catalog and the in-memory sources. Raising leaves the
        catalog as it was (an unreachable index or store raises :class:`Transient`)."""
        batch = _Batch(_Undo(len(self.catalog)))
        try:
            return await self._prepare(records, batch)
        except Exception as exc:
            await self._restore(batch.undo)
            if isinstance(exc, IndexUnavailable | StoreUnavailable):
                raise Transient(str(exc)) from exc
            raise
        except BaseException:  # cancelled: the catalog at least
            self._restore_catalog(batch.undo)
            raise

    async def discard(self, prepared: Prepared) -> None:
        """The worker gives up on this batch as it is: put the catalog back as before it."""
        batch: _Batch = prepared.payload
        await self._restore(batch.undo)

    async def reject(self, record: Record, reason: str) -> Outcome:
        """A poison record (its application kept failing): to the dead letters."""
        outcomes: dict[int, Outcome] = {}
        dead: list[Letter] = []
        self._dead(record, reason, outcomes, dead)
        self.dead_letters.add_many(dead)
        self.dead_log.add(record.offset, record.body, reason)
        return outcomes[record.offset]

    async def _prepare(self, records: Sequence[Record], batch: _Batch) -> Prepared:
        t = time.perf_counter()
        outcomes: dict[int, Outcome] = {}
        changed: set[int] = set()
        run: list[tuple[int, Item]] = []  # consecutive upserts, applied together
        dead: list[Letter] = []
        accepted: dict[str, Record] = {}  # id -> its latest upsert record in the batch
        for rec in records:
            op = rec.body.get("op")
            known = self.dead_log.reason(rec.offset, rec.body)
            if known is not None:  # dead-lettered before a restart: never applied
                self._dead(rec, known, outcomes, [])
                continue
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
        for rec in records:
            out = outcomes.get(rec.offset)
            if out is not None and out.status == DEAD:
                self.dead_log.add(rec.offset, rec.body, out.detail)
        if changed:
            self.on_catalog_change()
        eligible: dict[str, float] = {"catalog": time.time()}
        t = self._stage("validate_and_catalog", t)
        if changed:
            rows = np.fromiter(sorted(changed), np.int64, len(changed))
            if self.towers is not None:
                await self._vectors(rows, accepted)
                t = self._stage("item_tower", t)
            if self.graph is not None:
                self.graph.ensure(self.catalog, rows)
                eligible["graph"] = time.time()
                t = self._stage("graph", t)
            if self.cold_start is not None:
                await self.cold_start.admit(rows, time.time())
                if not self.cold_start.waiting:
                    eligible["new_arrivals"] = time.time()
                t = self._stage("cold_start_priors", t)
        return Prepared(outcomes, eligible, batch)

    async def _vectors(self, rows: npt.NDArray[np.int64], accepted: dict[str, Record]) -> None:
        """Full vectors now for rows whose text is embedded, provisional ones for the others,
        which the lane then owes. What is owed is settled first, on the loop: a lane step
        finishing meanwhile then keeps nothing for these rows (it checks what is owed)."""
        towers, lane, cat = self.towers, self.lane, self.catalog
        assert towers is not None and lane is not None
        cheap = towers.cheap(cat, rows)
        for r, known in zip(rows.tolist(), cheap.tolist(), strict=True):
            if known:
                lane.settle(r)  # a newer version with a known text: owed nothing
            else:
                rec = accepted.get(cat.ids[r])  # None: a replay of the catalog's own state
                lane.owe(r, int(cat.version.values[r]), rec.at if rec else time.time())
        # aggregates on the loop: the lane's thread reads the catalog meanwhile
        aggs = ItemAggregates.build(cat, towers.featurizer.min_support)
        full = await asyncio.to_thread(towers.compute, cat, rows[cheap], aggs)
        prov = await asyncio.to_thread(towers.compute, cat, rows[~cheap], aggs, provisional=True)
        towers.put(rows[cheap], full, full=True)
        towers.put(rows[~cheap], prov, full=False)

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
        dead.append((log_source(rec.offset), reason, rec.body))

    def _keep(self, undo: _Undo, ids: Sequence[str]) -> None:
        """Remember the rows of ``ids`` as they are, before the batch first changes them."""
        cat = self.catalog
        for item_id in ids:
            row = cat.row_of.get(item_id)
            if row is not None and row < undo.first_new and row not in undo.rows:
                undo.rows[row] = cat.row_state(row)

    def _restore_catalog(self, undo: _Undo) -> list[int]:
        """Put back the rows a batch changed and forget the rows it added; returns the rows
        put back live (whose vectors must follow)."""
        cat = self.catalog
        for state in undo.rows.values():
            cat.restore(state)
        for row in range(undo.first_new, len(cat)):
            cat.forget(row)
        if undo.rows or len(cat) > undo.first_new:
            self.on_catalog_change()
        return sorted(r for r in undo.rows if not cat.deleted.values[r])

    async def _restore(self, undo: _Undo) -> None:
        """The catalog as before the batch, and the item vectors of the rows put back
        computed again from their contents (the lane drops what it owed for the batch's
        versions by itself: they are no longer the catalog's)."""
        live = self._restore_catalog(undo)
        if live and self.towers is not None:
            try:
                await self._vectors(np.array(live, np.int64), {})
            except Exception:  # they are recomputed with the row's next change
                log.exception("item vectors of %d rows put back not recomputed", len(live))

    def _upserts(
        self, run: list[tuple[int, Item]], outcomes: dict[int, Outcome], batch: _Batch
    ) -> set[int]:
        """Apply consecutive upserts; returns the catalog rows they changed."""
        if not run:
            return set()
        cat = self.catalog
        self._keep(batch.undo, [it.id for _, it in run])
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
            item_id, version = _delete_of(rec.body)
        except (KeyError, TypeError, ValueError) as exc:
            self._dead(rec, f"delete needs 'id' and an integer 'version': {exc}", outcomes, dead)
            return
        self._keep(batch.undo, [item_id])
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
            by_version: dict[int, list[str]] = {}
            for item_id, version in batch.deletes.items():
                by_version.setdefault(version, []).append(item_id)
            for version, ids in by_version.items():  # one call per version, not per item
                await self.index.delete(ids, version)
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
            eligible["two_tower"] = now  # full or provisional vectors, all in this batch
        return eligible

    @property
    def owed(self) -> int:
        """Item vectors the lane still owes."""
        return 0 if self.lane is None else len(self.lane)

    def doc(self, row: int) -> IndexDoc:
        """The row's index document, with its vector of the served model when it has one."""
        return index_doc(self.catalog, self.towers, row)

    async def persist(self) -> None:
        """The index durable, then what the lane owes: the checkpoint may pass both."""
        try:
            await self.index.persist()
        except IndexUnavailable as exc:
            raise Transient(str(exc)) from exc
        if self.lane is not None and self.owed_path is not None:
            await asyncio.to_thread(VectorLane.save, self.owed_path, self.lane.snapshot())

    def restore_owed(self, *, from_checkpoint: bool = True) -> int:
        """At start: owe again what was owed at the last checkpoint, and every row whose
        vector is provisional (its text was never embedded). Returns how many are owed."""
        if self.lane is None or self.towers is None:
            return 0
        if from_checkpoint and self.owed_path is not None:
            self.lane.load(self.owed_path)
        now = time.time()
        for r in self.towers.provisional_rows(len(self.catalog)).tolist():
            if r not in self.lane.owed and not self.catalog.deleted.values[r]:
                self.lane.owe(r, int(self.catalog.version.values[r]), now)
        return len(self.lane)


def index_doc(catalog: Catalog, towers: TowerServing | None, row: int) -> IndexDoc:
    """The row's index document, with its vector (full or provisional) of the served model
    when it has one."""
    vec = towers.vector(row) if towers is not None else None
    if towers is None or vec is None:
        return catalog.index_doc(row)
    return catalog.index_doc(row, vec, towers.version, towers.is_provisional(row))


def replay_catalog(catalog: Catalog, ingest_log: IngestLog) -> int:
    """Apply every logged change to the catalog (at start, before serving). Records that fail
    validation are skipped here (the worker dead-letters them), and so are the log records
    among the dead letters (poison records: applying them kept failing). Returns how many
    applied."""
    dead = DeadLetters(ingest_log.path.parent).from_log()
    n = 0
    run: list[Item] = []  # consecutive upserts go in together
    for rec in ingest_log.records():
        if dead.reason(rec.offset, rec.body) is not None:
            continue
        op = rec.body.get("op")
        try:
            if op == "upsert":
                run.append(Item.model_validate(rec.body["item"]))
            elif op == "delete":
                item_id, version = _delete_of(rec.body)
                n += _replay_upserts(catalog, run)
                run = []
                n += catalog.delete(item_id, version)
        except (ValidationError, KeyError, TypeError, ValueError):
            continue
    return n + _replay_upserts(catalog, run)


def _replay_upserts(catalog: Catalog, run: list[Item]) -> int:
    """Upsert ``run``; should the catalog raise, one item at a time, skipping (and logging)
    those it raises on (the worker dead-letters them): a start never stops on a record."""
    if not run:
        return 0
    try:
        return len(catalog.upsert(run).applied)
    except Exception:
        log.exception("replaying %d upserts failed; applying them one at a time", len(run))
    n = 0
    for it in run:
        try:
            n += len(catalog.upsert([it]).applied)
        except Exception as exc:
            log.error("replay skipped %s version %d: %r", it.id, it.version, exc)
    return n
