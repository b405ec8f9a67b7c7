"""The worker's ordering, retry and checkpoint rules, over a sink that keeps what it is given
(the engine's real sink runs in tests/engine/serving/test_writes.py and the crash test)."""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.log import IngestLog, Record, upsert_body
from ingest.worker import APPLIED, DEAD, PENDING, IngestWorker, Outcome, Prepared, Transient


class ListSink:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.prepared: list[int] = []
        self.written: list[int] = []
        self.persisted = 0

    async def prepare(self, records: Sequence[Record]) -> Prepared:
        self.prepared += [r.offset for r in records]
        outcomes = {r.offset: Outcome(r.body["item"]["id"], APPLIED) for r in records}
        return Prepared(outcomes, {"catalog": 0.0}, [r.offset for r in records])

    async def write(self, prepared: Prepared) -> dict[str, float]:
        if self.failures:
            self.failures -= 1
            raise Transient("index away")
        self.written += prepared.payload
        return {"bm25": 0.0}

    async def persist(self) -> None:
        self.persisted += 1


def _bodies(n: int, start: int = 0) -> list[dict]:
    return [upsert_body({"id": f"x{i}"}) for i in range(start, start + n)]


async def test_batches_in_order_and_checkpoint_after_persist(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    sink = ListSink()
    worker = IngestWorker(log, sink, batch_size=4, persist_every_s=3600)
    offsets = await worker.accept(_bodies(10))
    assert worker.oldest_unapplied_age() >= 0.0 and worker.lag == 10
    assert await worker.until(offsets[-1])
    assert worker.oldest_unapplied_age() == 0.0
    assert sink.written == list(range(10)) and worker.lag == 0
    assert log.checkpoint == 0 and sink.persisted == 0  # not yet durable: no checkpoint
    assert await worker.drain() == 0
    assert log.checkpoint == 10 and sink.persisted == 1
    assert {o.status for o in worker.outcomes(offsets).values()} == {APPLIED}
    assert worker.outcomes(offsets) == {}  # read once


async def test_failed_write_is_retried_with_the_same_batch(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    sink = ListSink(failures=2)
    worker = IngestWorker(log, sink, batch_size=100, persist_every_s=0)
    offsets = await worker.accept(_bodies(3))
    assert not await worker.until(offsets[-1], timeout_s=1.0)
    assert worker.stats.last_error == "index away" and worker.lag == 3
    assert worker._outcomes[0].status == PENDING
    assert await worker.drain() == 3  # still refused
    assert await worker.drain() == 0
    assert sink.prepared == [0, 1, 2]  # prepared once, written when the index took it
    assert sink.written == [0, 1, 2] and log.checkpoint == 3
    assert worker.outcomes(offsets)[2].status == APPLIED


async def test_restart_resumes_after_the_checkpoint(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    first = IngestWorker(log, ListSink(), batch_size=5, persist_every_s=0)
    await first.accept(_bodies(5))
    await first.drain()
    await first.accept(_bodies(4, start=5))  # accepted, then the process dies
    sink = ListSink()
    again = IngestWorker(IngestLog(tmp_path), sink, batch_size=5, persist_every_s=0)
    assert again.lag == 4
    assert await again.drain() == 0 and sink.written == [5, 6, 7, 8]


async def test_freshness_hook_gets_every_source_and_all(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    worker = IngestWorker(
        IngestLog(tmp_path), ListSink(), on_freshness=lambda s, v: seen.append((s, v))
    )
    await worker.accept(_bodies(1))
    await worker.drain()
    assert sorted(s for s, _ in seen) == ["all", "bm25", "catalog"]
    assert all(v == 0.0 for _, v in seen)  # eligibility "at" 0: clamped, never negative


class PoisonSink(ListSink):
    """Fails deterministically (a ValueError, every time) on any batch holding an id of
    ``poison``, in ``prepare`` or in ``write``; keeps what it discarded and rejected."""

    def __init__(self, poison: set[str], where: str = "write", failures: int = 0) -> None:
        super().__init__(failures)
        self.poison, self.where = poison, where
        self.applied: set[int] = set()  # what prepare applied and nothing undid
        self.discarded: list[list[int]] = []
        self.rejected: list[tuple[int, str]] = []

    def _check(self, ids: Sequence[str]) -> None:
        bad = sorted(set(ids) & self.poison)
        if bad:
            raise ValueError(f"cannot apply {bad}")

    async def prepare(self, records: Sequence[Record]) -> Prepared:
        if self.where == "prepare":
            self._check([r.body["item"]["id"] for r in records])
        prepared = await super().prepare(records)
        prepared.payload = [(r.offset, r.body["item"]["id"]) for r in records]
        self.applied.update(r.offset for r in records)
        return prepared

    async def write(self, prepared: Prepared) -> dict[str, float]:
        if self.where == "write":
            self._check([i for _, i in prepared.payload])
        if self.failures:
            self.failures -= 1
            raise Transient("index away")
        self.written += [off for off, _ in prepared.payload]
        return {"bm25": 0.0}

    async def discard(self, prepared: Prepared) -> None:
        offsets = [off for off, _ in prepared.payload]
        self.discarded.append(offsets)
        self.applied.difference_update(offsets)

    async def reject(self, record: Record, reason: str) -> Outcome:
        self.rejected.append((record.offset, reason))
        return Outcome(record.body["item"]["id"], DEAD, reason)


@pytest.mark.parametrize("where", ["prepare", "write"])
async def test_a_poison_record_is_dead_lettered_and_the_rest_applied(
    tmp_path: Path, where: str
) -> None:
    """A batch failing deterministically is undone and applied one record at a time after
    ``max_failures`` tries; the record that keeps failing goes to the dead letters, with its
    outcome and the poison hook, and everything else (after it too) is applied, in order."""
    log = IngestLog(tmp_path)
    sink = PoisonSink({"x2"}, where)
    poisoned: list[tuple[int, str]] = []
    worker = IngestWorker(
        log, sink, batch_size=5, persist_every_s=0, on_poison=lambda o, r: poisoned.append((o, r))
    )
    offsets = await worker.accept(_bodies(8))
    assert await worker.until(offsets[-1], timeout_s=10.0)
    assert sink.written == [0, 1, 3, 4, 5, 6, 7]
    assert [off for off, _ in sink.rejected] == [2] and "x2" in sink.rejected[0][1]
    assert [off for off, _ in poisoned] == [2] and worker.stats.poison == 1
    assert "failed 3 times" in poisoned[0][1] and "ValueError" in poisoned[0][1]
    if where == "write":  # the batch, then the record alone, three times each: undone
        assert sink.discarded == [[0, 1, 2, 3, 4], [2]]
    else:
        assert sink.discarded == []  # a prepare that raises applies nothing
    assert sink.applied == set(sink.written)  # nothing of the poison record stays applied
    outcomes = worker.outcomes(offsets)
    assert outcomes[2].status == DEAD and "x2" in outcomes[2].detail
    assert {outcomes[o].status for o in offsets if o != 2} == {APPLIED}
    assert await worker.drain() == 0 and log.checkpoint == 8
    assert worker.stalled_s() == 0.0


async def test_transient_failures_are_retried_and_never_dead_lettered(tmp_path: Path) -> None:
    """Many more transient failures than ``max_failures``: the batch waits, whole, then goes."""
    log = IngestLog(tmp_path)
    sink = PoisonSink(set(), failures=8)
    worker = IngestWorker(log, sink, batch_size=10, persist_every_s=0)
    offsets = await worker.accept(_bodies(4))
    for _ in range(8):
        assert await worker.drain() == 4  # refused: the drain stops, the batch is kept
    assert sink.rejected == [] and sink.discarded == [] and worker.stats.poison == 0
    assert worker.stats.last_error == "index away"
    assert worker.outcomes(range(4, 5)) == {} and worker._outcomes[0].status == PENDING
    assert await worker.drain() == 0
    assert sink.written == [0, 1, 2, 3] and sink.prepared == [0, 1, 2, 3]  # prepared once
    assert {o.status for o in worker.outcomes(offsets).values()} == {APPLIED}


async def test_os_errors_count_as_transient(tmp_path: Path) -> None:
    class Unreachable(PoisonSink):
        async def write(self, prepared: Prepared) -> dict[str, float]:
            raise ConnectionRefusedError("connection refused")

    sink = Unreachable(set())
    worker = IngestWorker(IngestLog(tmp_path), sink, batch_size=10, persist_every_s=0)
    await worker.accept(_bodies(2))
    for _ in range(6):
        assert await worker.drain() == 2
    assert sink.rejected == [] and sink.discarded == []


async def test_poison_records_in_a_row_suspect_the_backend(tmp_path: Path) -> None:
    """When every record fails deterministically (the backend, not the records, is broken),
    ``max_dead_in_a_row`` of them go to the dead letters, then the worker holds and retries
    without end; once the backend works again, the rest is applied."""
    log = IngestLog(tmp_path)
    sink = PoisonSink({f"x{i}" for i in range(6)}, "write")
    worker = IngestWorker(log, sink, batch_size=6, persist_every_s=0, max_dead_in_a_row=2)
    offsets = await worker.accept(_bodies(6))
    assert not await worker.until(offsets[-1], timeout_s=10.0)  # held: returns early
    assert [off for off, _ in sink.rejected] == [0, 1] and worker.lag == 4
    for _ in range(5):
        assert await worker.drain() == 4  # held, not dead-lettered
    assert len(sink.rejected) == 2 and "dead-lettered" not in (worker.stats.last_error or "")
    sink.poison = set()  # the backend is repaired
    assert await worker.drain() == 0
    assert sink.written == [2, 3, 4, 5]


async def test_stalled_seconds_grow_while_work_waits(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    worker = IngestWorker(log, PoisonSink(set(), failures=100), persist_every_s=0)
    assert worker.stalled_s() == 0.0  # nothing to do is not a stall
    await worker.accept(_bodies(1))
    await worker.drain()  # refused
    await asyncio.sleep(0.05)
    assert worker.stalled_s() >= 0.05
    assert worker.stalled_s() <= worker.oldest_unapplied_age() + 1e-6
