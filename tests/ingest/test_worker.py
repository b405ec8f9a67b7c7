"""The worker's ordering, retry and checkpoint rules, over a sink that keeps what it is given
(the engine's real sink runs in tests/engine/test_writes.py and the crash test)."""

from collections.abc import Sequence
from pathlib import Path

from ingest.log import IngestLog, Record, upsert_body
from ingest.worker import APPLIED, PENDING, IngestWorker, Outcome, Prepared, Transient


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
