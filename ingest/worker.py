"""The ingest worker: applies the log's changes, in order, in micro-batches, to a :class:`Sink`.

A batch goes through two phases. ``prepare`` validates the records (failures go to the dead
letters), applies them to the in-memory catalog and computes what the candidate sources need
(item-tower and graph vectors); it runs once per record. ``write`` sends the batch's documents
to the search backend and is retried, with back-off, until the backend takes them: an
unreachable index delays changes, never loses them. Every ``persist_every_s`` the backend is made
durable (``persist``) and the log checkpoint advances past what it holds; after a crash, the
records after the checkpoint are applied again, and versions make that idempotent.

A failure is either transient (:class:`Transient`, or an ``OSError`` such as an unreachable
backend): the same batch is retried, without end, and nothing is lost; or deterministic
(anything else: the batch itself is what fails). A batch that fails deterministically
``max_failures`` times in a row is undone (``discard``) and applied again one record at a
time; a single record that fails so ``max_failures`` times is a *poison* record: it goes to
the dead letters (``reject``) and the worker moves past it, so one bad record never stops
ingest. Should ``max_dead_in_a_row`` records in a row turn out poison, the cause is taken to
be the backend, not the records: nothing more is dead-lettered and the worker retries, as for
a transient failure, until something applies again (``stalled_s`` reports it).

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

from engine.core.loops import run_forever
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
    async def prepare(self, records: Sequence[Record]) -> Prepared:
        """Validate and apply ``records`` to what the sink keeps in memory. Raising leaves
        nothing of them applied (the same records are prepared again later)."""
        ...

    async def write(self, prepared: Prepared) -> dict[str, float]:
        """Send the batch to the index; returns, per source, when it became eligible there.
        Raises :class:`Transient` when the write should be retried."""
        ...

    async def discard(self, prepared: Prepared) -> None:
        """Undo what ``prepare`` applied: the batch is not written as it is (its records are
        prepared again one at a time, or its one record goes to the dead letters)."""
        ...

    async def reject(self, record: Record, reason: str) -> Outcome:
        """Keep ``record`` in the dead letters with ``reason``; it is never applied."""
        ...

    async def persist(self) -> None:
        """Make every written change durable in the backend."""
        ...


class Transient(RuntimeError):
    """The backend did not take the batch now; the same batch is written again later."""


# Failures retried without end: the backend, the network or the disk, never the record.
TRANSIENT: tuple[type[BaseException], ...] = (Transient, OSError)


@dataclass(slots=True)
class WorkerStats:
    applied: int = 0
    stale: int = 0
    dead: int = 0
    retries: int = 0
    poison: int = 0  # records dead-lettered because applying them kept failing
    last_error: str | None = None


FreshnessHook = Callable[[str, float], None]
PoisonHook = Callable[[int, str], None]  # (log offset, reason)


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
        on_poison: PoisonHook | None = None,
        max_failures: int = 3,
        max_dead_in_a_row: int = 10,
    ) -> None:
        self.log = ingest_log
        self.sink = sink
        self.batch_size = batch_size
        self.persist_every_s = persist_every_s
        self.on_freshness = on_freshness
        self.on_outcome = on_outcome
        self.on_poison = on_poison
        self.max_failures = max_failures  # deterministic failures before isolating / rejecting
        self.max_dead_in_a_row = max_dead_in_a_row  # then the backend is suspected, not records
        self.reader = LogReader(ingest_log, ingest_log.checkpoint)
        self.applied = ingest_log.checkpoint  # offsets below: in the catalog and the index
        self.stats = WorkerStats()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._read: list[Record] = []  # read, not yet prepared (the next batch's records first)
        self._unwritten: tuple[list[Record], Prepared] | None = None
        self._outcomes: dict[int, Outcome] = {}
        self._last_persist = time.monotonic()
        self._backoff_until = 0.0
        self._failures = 0  # deterministic failures in a row of the batch (or record) at hand
        self._isolate = 0  # records at the front of ``_read`` to apply one at a time
        self._dead_in_a_row = 0  # poison records since something last applied
        self._blocked = False  # the last step failed and retries as it is (transient or held)
        self._advanced_at = time.time()  # when ``applied`` last moved (or the worker started)

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

    def stalled_s(self) -> float:
        """Seconds the worker has had changes waiting without applying any: since it last
        moved past a change, or since the oldest waiting one was accepted if that is later
        (0 when nothing waits). Call it on the event loop."""
        if self.lag <= 0:
            return 0.0
        return max(0.0, min(time.time() - self._advanced_at, self.oldest_unapplied_age()))

    # -- applying ---------------------------------------------------------------------------
    async def step(self) -> int:
        """Apply (at most) one batch; returns how many records it moved past. A failed
        prepare or write keeps the batch for the next step and returns 0; a poison record
        dead-lettered counts as moved past (1)."""
        async with self._lock:
            if self._unwritten is None:
                if not self._read:
                    if self.log.behind():  # another process sharing the log appended
                        await asyncio.to_thread(self.log.refresh)
                    self._read = self.reader.read(self.batch_size)
                if not self._read:
                    await self._maybe_persist(force=False)
                    return 0
                batch = self._read[:1] if self._isolate else self._read
                try:
                    prepared = await self.sink.prepare(batch)
                except Exception as exc:  # nothing of it applied: the records stay read
                    return await self._failed(batch, None, exc)
                self._unwritten, self._read = (batch, prepared), self._read[len(batch) :]
                for off, out in prepared.outcomes.items():
                    self._outcomes[off] = out
            batch, prepared = self._unwritten
            try:
                index_at = await self.sink.write(prepared)
            except Exception as exc:
                return await self._failed(batch, prepared, exc)
            self._unwritten = None
            self._failures = self._dead_in_a_row = self.stats.retries = 0
            self._isolate = max(0, self._isolate - len(batch))
            self._blocked = False
            self.stats.last_error = None
            self._record(batch, prepared, index_at)
            self._moved_past(batch[-1].offset)
            await self._maybe_persist(force=False)
            return len(batch)

    def _moved_past(self, offset: int) -> None:
        self.applied = offset + 1
        self._advanced_at = time.time()

    async def _failed(self, batch: list[Record], prepared: Prepared | None, exc: Exception) -> int:
        """``prepare`` (``prepared`` None) or ``write`` of ``batch`` raised ``exc``. A transient
        failure keeps the batch as it is; a deterministic one too, up to ``max_failures`` in a
        row, after which the batch is undone and applied one record at a time, or, when it is
        one record, that record is dead-lettered. Returns how many records it moved past."""
        transient = isinstance(exc, TRANSIENT)
        held = not transient and self._dead_in_a_row >= self.max_dead_in_a_row
        self.stats.retries += 1
        self.stats.last_error = str(exc) if transient else f"{type(exc).__name__}: {exc}"
        if prepared is not None:  # written again later, or not at all: nobody may count on it
            for off in (r.offset for r in batch):
                waiting = self._outcomes.get(off)
                if waiting is not None and waiting.status == APPLIED:
                    waiting.status = PENDING
        if not transient and not held:
            self._failures += 1
        if transient or held or self._failures < self.max_failures:
            self._blocked = transient or held
            # back off longer and longer while blocked; briefly between the tries of a record
            # that may be poison (they are few, and the rest of the log waits behind it)
            n = self.stats.retries if self._blocked else self._failures
            self._backoff_until = time.monotonic() + min(
                2.0, (0.1 if self._blocked else 0.05) * 2**n
            )
            what = "prepare" if prepared is None else "index write"
            if held:
                log.error(
                    "%s failed, %d changes wait; %d records in a row were dead-lettered, so "
                    "the backend is suspected and nothing more is: %s",
                    what,
                    len(batch),
                    self._dead_in_a_row,
                    self.stats.last_error,
                )
            else:
                log.warning("%s failed, %d changes wait: %s", what, len(batch), exc)
            return 0
        self._failures = 0
        if prepared is not None:  # undo the catalog side; the records are read again
            await self.sink.discard(prepared)
            self._unwritten = None
            self._read = batch + self._read
        if len(batch) > 1:
            self._isolate = len(batch)
            log.warning(
                "the batch of log offsets %d..%d failed %d times (%s): applying it one record "
                "at a time",
                batch[0].offset,
                batch[-1].offset,
                self.max_failures,
                self.stats.last_error,
            )
            return 0
        return await self._reject(batch[0], f"failed {self.max_failures} times: {exc!r}")

    async def _reject(self, rec: Record, reason: str) -> int:
        """``rec`` (first in ``_read``) is poison: to the dead letters, and move past it."""
        out = await self.sink.reject(rec, reason)
        self._outcomes[rec.offset] = out
        self._read = self._read[1:]
        self._isolate = max(0, self._isolate - 1)
        self._dead_in_a_row += 1
        self._blocked = False
        self.stats.poison += 1
        self.stats.dead += 1
        self._moved_past(rec.offset)
        log.error(
            "log offset %d (%s %s) moved to the dead letters: %s",
            rec.offset,
            out.op,
            out.item_id,
            reason,
        )
        if self.on_outcome is not None:
            self.on_outcome(out.status)
        if self.on_poison is not None:
            self.on_poison(rec.offset, reason)
        await self._maybe_persist(force=False)
        return 1

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
            except TRANSIENT as exc:  # the checkpoint stays; the changes are replayed if need be
                log.warning("persisting the index failed: %s", exc)
                return
            except Exception:  # the same; only draining (``force``) reports it to its caller
                if force:
                    raise
                log.exception("persisting the index failed")
                return
            self.log.commit(target)
            self._last_persist = time.monotonic()

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No batch is applied inside (changes are still accepted, durably, and wait)."""
        async with self._lock:
            yield

    async def until(self, offset: int, timeout_s: float = 5.0) -> bool:
        """Drive the worker until ``offset`` is applied; False if a write failed transiently
        or the time ran out (the change stays in the log and is applied later). A failure
        that is not transient is driven through: retried, isolated, dead-lettered."""
        deadline = time.monotonic() + timeout_s
        while self.applied <= offset:
            moved = await self.step()
            if moved == 0 and self.applied <= offset:
                now = time.monotonic()
                if self._blocked or now >= deadline:
                    return False
                # another caller holds the batch, or a failed one waits for its retry
                await asyncio.sleep(min(max(0.01, self._backoff_until - now), deadline - now))
        return True

    def outcomes(self, offsets: range) -> dict[int, Outcome]:
        """Outcomes of ``offsets`` known so far (forgotten once read)."""
        return {o: self._outcomes.pop(o) for o in offsets if o in self._outcomes}

    async def drain(self) -> int:
        """Apply everything accepted so far, make it durable; returns the changes still waiting
        (more than 0 when the index refused a write)."""
        while self.lag:
            if await self.step() == 0:
                if self._blocked:
                    break
                await asyncio.sleep(max(0.0, self._backoff_until - time.monotonic()))
        async with self._lock:
            await self._maybe_persist(force=True)
        return self.lag

    async def run(self, idle_s: float = 1.0) -> None:
        """Apply changes as they arrive, forever (cancel to stop). The back-off a failed batch
        set is waited out before each step; a step that raises (a bad batch must not kill the
        loop) is logged and retried after a second."""
        await run_forever(
            self.step,
            what="ingest step",
            log=log,
            idle=idle_s,
            wake=self._wake,
            hold=lambda: self._backoff_until - time.monotonic(),
            on_error_sleep=1.0,
        )
