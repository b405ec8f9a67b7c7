"""The ingest worker: applies the log's changes, in order, in micro-batches, to a :class:`Sink`.

A batch goes through two phases. ``prepare`` validates the records (failures go to the dead
letters), applies them to the in-memory catalog and computes what the candidate sources need
(item-tower and graph vectors); it runs once per record. ``write`` sends the batch's documents
to the search backend and is retried, with back-off, until the backend takes them: an
unreachable index delays changes, never loses them. Every ``persist_every_s`` the backend is made
durable (``persist``) and the log checkpoint advances past what it holds; after a crash, the
records after the checkpoint are applied again, and versions make that idempotent.

Freshness is measured per change and per candidate source: from the change's acceptance (its
log time) to the moment that source can return it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ingest.log import IngestLog, LogReader, Record

log = logging.getLogger("shopnow.ingest")

APPLIED, STALE, DEAD, PENDING = "applied", "stale", "dead_letter", "pending"
KEEP_OUTCOMES = 100_000  # outcomes kept for callers that wait on their changes


@dataclass(slots=True)
class Outcome:
    item_id: str
    status: str  # APPLIED, STALE or DEAD (PENDING while the index write is retried)
    detail: str = ""
    op: str = "upsert"


@dataclass(slots=True)
class Prepared:
    """What ``prepare`` made of a batch: an outcome per offset, and when each candidate source
    that became eligible during preparation did so (``time.time()``)."""

    outcomes: dict[int, Outcome]
    eligible_at: dict[str, float] = field(default_factory=dict)
    payload: Any = None  # the sink's own: what ``write`` sends


class Sink(Protocol):
    async def prepare(self, records: Sequence[Record]) -> Prepared: ...

    async def write(self, prepared: Prepared) -> dict[str, float]:
        """Send the batch to the index; returns, per source, when it became eligible there.
        Raises :class:`Transient` when the write should be retried."""
        ...

    async def persist(self) -> None:
        """Make every written change durable in the backend."""
        ...


class Transient(RuntimeError):
    """The backend did not take the batch now; the same batch is written again later."""


@dataclass(slots=True)
class WorkerStats:
    applied: int = 0
    stale: int = 0
    dead: int = 0
    retries: int = 0
    last_error: str | None = None


FreshnessHook = Callable[[str, float], None]


class IngestWorker:
    """Single writer over one log. Callers either drive it (``until``) or let ``run`` do it."""

    def __init__(
        self,
        ingest_log: IngestLog,
        sink: Sink,
        *,
        batch_size: int = 1000,
        persist_every_s: float = 5.0,
        on_freshness: FreshnessHook | None = None,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.log = ingest_log
        self.sink = sink
        self.batch_size = batch_size
        self.persist_every_s = persist_every_s
        self.on_freshness = on_freshness
        self.on_outcome = on_outcome
        self.reader = LogReader(ingest_log, ingest_log.checkpoint)
        self.applied = ingest_log.checkpoint  # offsets below: in the catalog and the index
        self.stats = WorkerStats()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._read: list[Record] = []
        self._unwritten: tuple[list[Record], Prepared] | None = None
        self._outcomes: dict[int, Outcome] = {}
        self._last_persist = time.monotonic()
        self._backoff_until = 0.0

    # -- accepting --------------------------------------------------------------------------
    async def accept(self, bodies: Sequence[dict[str, Any]]) -> range:
        """Durably append changes (raises :class:`~ingest.log.LogFull`); the worker is woken."""
        offsets = await asyncio.to_thread(self.log.append, bodies)
        self._wake.set()
        return offsets

    @property
    def lag(self) -> int:
        """Accepted changes not yet applied to catalog and index."""
        return self.log.next_offset - self.applied

    def oldest_unapplied_age(self) -> float:
        """Seconds since the oldest change not yet applied was accepted (0 when none)."""
        if self._unwritten is not None:
            first: Record | None = self._unwritten[0][0]
        elif self._read:
            first = self._read[0]
        else:
            first = self.reader.peek()
        return 0.0 if first is None else max(0.0, time.time() - first.at)

    # -- applying ---------------------------------------------------------------------------
    async def step(self) -> int:
        """Apply (at most) one batch; returns how many records it moved past. A failed write
        keeps the batch for the next step and returns 0."""
        async with self._lock:
            if self._unwritten is None:
                if not self._read:
                    self._read = self.reader.read(self.batch_size)
                if not self._read:
                    await self._maybe_persist(force=False)
                    return 0
                prepared = await self.sink.prepare(self._read)  # raising keeps the batch
                self._unwritten, self._read = (self._read, prepared), []
                for off, out in prepared.outcomes.items():
                    self._outcomes[off] = out
            batch, prepared = self._unwritten
            try:
                index_at = await self.sink.write(prepared)
            except Transient as exc:
                self.stats.retries += 1
                self.stats.last_error = str(exc)
                self._backoff_until = time.monotonic() + min(2.0, 0.1 * 2**self.stats.retries)
                for off in (r.offset for r in batch):
                    waiting = self._outcomes.get(off)
                    if waiting is not None and waiting.status == APPLIED:
                        waiting.status = PENDING
                log.warning("index write failed, %d changes wait: %s", len(batch), exc)
                return 0
            self._unwritten = None
            self.stats.retries = 0
            self.stats.last_error = None
            self._record(batch, prepared, index_at)
            self.applied = batch[-1].offset + 1
            await self._maybe_persist(force=False)
            return len(batch)

    def _record(self, batch: list[Record], prepared: Prepared, index_at: dict[str, float]) -> None:
        eligible = {**prepared.eligible_at, **index_at}
        if len(self._outcomes) > KEEP_OUTCOMES:  # nobody waited for the oldest ones
            for off in sorted(self._outcomes)[: len(self._outcomes) - KEEP_OUTCOMES // 2]:
                del self._outcomes[off]
        for rec in batch:
            out = prepared.outcomes.get(rec.offset)
            if out is None:
                continue
            if out.status == PENDING:
                out.status = APPLIED
            if out.status == APPLIED:
                self.stats.applied += 1
                if out.op == "upsert" and self.on_freshness is not None:
                    self._fresh(rec, eligible)
            elif out.status == STALE:
                self.stats.stale += 1
            elif out.status == DEAD:
                self.stats.dead += 1
            if self.on_outcome is not None:
                self.on_outcome(out.status)

    def _fresh(self, rec: Record, eligible: dict[str, float]) -> None:
        """Per source, from acceptance to eligibility, and "all": the slowest of them."""
        hook = self.on_freshness
        assert hook is not None
        for source, t in eligible.items():
            hook(source, max(0.0, t - rec.at))
        hook("all", max(0.0, max(eligible.values(), default=rec.at) - rec.at))

    async def _maybe_persist(self, force: bool) -> None:
        due = time.monotonic() - self._last_persist >= self.persist_every_s
        target = self.applied
        if target > self.log.checkpoint and (force or due):
            try:
                await self.sink.persist()
            except Transient as exc:  # the checkpoint stays; the changes are replayed if need be
                log.warning("persisting the index failed: %s", exc)
                return
            self.log.commit(target)
            self._last_persist = time.monotonic()

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No batch is applied inside (changes are still accepted, durably, and wait)."""
        async with self._lock:
            yield

    async def until(self, offset: int, timeout_s: float = 5.0) -> bool:
        """Drive the worker until ``offset`` is applied; False if a write kept failing or the
        time ran out (the change stays in the log and is applied later)."""
        deadline = time.monotonic() + timeout_s
        while self.applied <= offset:
            moved = await self.step()
            if moved == 0 and self.applied <= offset:
                if self._unwritten is not None or time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.01)  # another caller holds the batch
        return True

    def outcomes(self, offsets: range) -> dict[int, Outcome]:
        """Outcomes of ``offsets`` known so far (forgotten once read)."""
        return {o: self._outcomes.pop(o) for o in offsets if o in self._outcomes}

    async def drain(self) -> int:
        """Apply everything accepted so far, make it durable; returns the changes still waiting
        (more than 0 when the index refused a write)."""
        while self.lag:
            if await self.step() == 0 and self._unwritten is not None:
                break
        async with self._lock:
            await self._maybe_persist(force=True)
        return self.lag

    async def run(self, idle_s: float = 1.0) -> None:
        """Apply changes as they arrive, forever (cancel to stop)."""
        while True:
            wait = max(0.0, self._backoff_until - time.monotonic())
            if wait:
                await asyncio.sleep(wait)
            try:
                moved = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad batch must not kill the loop; it is logged and retried
                log.exception("ingest step failed")
                moved = 0
                await asyncio.sleep(1.0)
            if moved == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_s)
