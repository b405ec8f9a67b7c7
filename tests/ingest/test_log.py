import sys
import threading
from pathlib import Path

import pytest

from ingest.log import IngestLog, LogFull, LogReader, delete_body, upsert_body


def test_append_read_and_reopen(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    assert log.append([upsert_body({"id": "a"}), delete_body("b", 2)], now=10.0) == range(0, 2)
    assert log.append([upsert_body({"id": "c"})], now=11.0) == range(2, 3)
    again = IngestLog(tmp_path)
    assert again.next_offset == 3 and again.checkpoint == 0 and again.pending == 3
    recs = list(again.records())
    assert [r.offset for r in recs] == [0, 1, 2] and recs[1].at == 10.0
    assert recs[1].body == {"op": "delete", "id": "b", "version": 2}
    assert [r.offset for r in again.records(start=2)] == [2]


def test_torn_tail_is_cut_and_offsets_continue(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.append([upsert_body({"id": "a"}), upsert_body({"id": "b"})])
    with log.path.open("ab") as fh:
        fh.write(b'{"offset": 2, "at": 1.0, "op": "ups')  # a crash mid-append
    again = IngestLog(tmp_path)
    assert again.next_offset == 2
    assert again.append([upsert_body({"id": "c"})]) == range(2, 3)
    assert [r.body["item"]["id"] for r in IngestLog(tmp_path).records()] == ["a", "b", "c"]


def test_corrupt_middle_record_is_an_error(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.append([upsert_body({"id": "a"})])
    with log.path.open("ab") as fh:
        fh.write(b"garbage\n")
    with log.path.open("ab") as fh:
        fh.write(b'{"offset": 2, "at": 1.0, "op": "delete", "id": "x", "version": 1}\n')
    with pytest.raises(ValueError, match="corrupt record"):
        IngestLog(tmp_path)


def test_checkpoint_survives_reopen_and_bounds_capacity(tmp_path: Path) -> None:
    log = IngestLog(tmp_path, capacity=3)
    log.append([upsert_body({"id": str(i)}) for i in range(3)])
    with pytest.raises(LogFull) as full:
        log.append([upsert_body({"id": "x"})])
    assert full.value.retry_after_s > 0 and "capacity 3" in str(full.value)
    assert log.next_offset == 3  # nothing half-written
    log.commit(2)
    assert IngestLog(tmp_path, capacity=3).checkpoint == 2
    assert log.append([upsert_body({"id": "y"}), upsert_body({"id": "z"})]) == range(3, 5)
    with pytest.raises(ValueError, match="outside"):
        log.commit(9)


def test_reader_follows_appends(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.append([upsert_body({"id": str(i)}) for i in range(5)])
    reader = LogReader(log, 2)
    peeked = reader.peek()
    assert peeked is not None and peeked.offset == 2
    assert [r.offset for r in reader.read(2)] == [2, 3]
    log.append([upsert_body({"id": "5"})])
    assert [r.offset for r in reader.read(10)] == [4, 5]
    assert reader.read(10) == [] and reader.peek() is None
    with pytest.raises(ValueError, match="past the end"):
        LogReader(log, 99)


def test_peeking_while_the_worker_reads_never_sees_a_torn_position(tmp_path: Path) -> None:
    # monitoring peeks from another thread while the worker reads: the offset and the file
    # position must move together (a peek between them once read past the last line)
    log = IngestLog(tmp_path / "log")
    log.append([upsert_body({"item_id": f"i{n}"}) for n in range(4000)])
    reader = LogReader(log, 0)
    errors: list[BaseException] = []
    peeked: list[int] = []
    done = threading.Event()

    def peek() -> None:
        try:
            while not done.is_set():
                rec = reader.peek()
                if rec is not None:
                    peeked.append(rec.offset)
        except BaseException as exc:  # the failure this test is for
            errors.append(exc)

    t = threading.Thread(target=peek)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the window is hit
    try:
        t.start()
        got = 0
        while got < 4000:
            got += len(reader.read(1))
    finally:
        done.set()
        t.join()
        sys.setswitchinterval(interval)
    assert errors == []
    assert reader.peek() is None
    assert peeked and all(0 <= o < 4000 for o in peeked)
    assert peeked == sorted(peeked)


_APPENDER = """
import sys
from pathlib import Path
from ingest.log import IngestLog, upsert_body
log = IngestLog(Path(sys.argv[1]), capacity=10_000)
name = sys.argv[2]
for i in range(int(sys.argv[3])):
    log.append([upsert_body({"id": f"{name}-{i}"}), upsert_body({"id": f"{name}-{i}b"})])
"""


def test_processes_sharing_a_log_get_dense_offsets_and_follow_each_other(tmp_path: Path) -> None:
    import subprocess

    mine = IngestLog(tmp_path, capacity=10_000)
    mine.append([upsert_body({"id": "first"})])
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, str(tmp_path), name, "150"])
        for name in ("p", "q")
    ]
    for i in range(100):  # this process appends meanwhile
        mine.append([upsert_body({"id": f"m-{i}"})])
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert mine.behind() and mine.refresh() == 1 + 100 + 2 * 150 * 2 and not mine.behind()
    recs = list(mine.records())
    assert [r.offset for r in recs] == list(range(len(recs)))
    ids = [r.body["item"]["id"] for r in recs]
    assert len(set(ids)) == len(ids) == mine.next_offset
    # a batch is appended as one: its two records are neighbours
    for name in ("p", "q"):
        at = {x: n for n, x in enumerate(ids)}
        assert all(at[f"{name}-{i}b"] == at[f"{name}-{i}"] + 1 for i in range(150))
    assert IngestLog(tmp_path).next_offset == mine.next_offset


def test_each_process_keeps_its_own_checkpoint(tmp_path: Path) -> None:
    shared = tmp_path / "ingest"
    a = IngestLog(shared, capacity=3)
    b = IngestLog(shared, capacity=3, checkpoint=tmp_path / "replica-1" / "ingest.checkpoint")
    a.append([upsert_body({"id": "x"}), upsert_body({"id": "y"})])
    a.commit(2)
    b.refresh()
    assert (a.checkpoint, a.pending) == (2, 0) and (b.checkpoint, b.pending) == (0, 2)
    assert IngestLog(shared).checkpoint == 2
    assert (
        IngestLog(shared, checkpoint=tmp_path / "replica-1" / "ingest.checkpoint").checkpoint == 0
    )
    with pytest.raises(LogFull):  # b's own checkpoint bounds what b accepts
        b.append([upsert_body({"id": "z"}), upsert_body({"id": "w"})])


def test_a_line_torn_by_another_process_is_cut_before_the_next_append(tmp_path: Path) -> None:
    mine, other = IngestLog(tmp_path), IngestLog(tmp_path)
    mine.append([upsert_body({"id": "a"})])
    with other.path.open("ab") as fh:  # the other process died half-way through its line
        fh.write(b'{"offset": 1, "at": 1.0, "op": "ups')
    assert mine.append([upsert_body({"id": "b"})]) == range(1, 2)
    assert [r.body["item"]["id"] for r in IngestLog(tmp_path).records()] == ["a", "b"]
