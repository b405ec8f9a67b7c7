"""The embedded index's readers/writer lock: readers share it, a writer has it alone, a waiting
writer goes before readers that come after it (so a stream of searches cannot starve a refresh),
an exception inside releases it, and heavy concurrent use neither deadlocks nor lets a writer
overlap anyone. Every wait is bounded: a broken lock fails the test instead of hanging it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from search_plugins.embedded._rwlock import RWLock

TIMEOUT = 10.0  # generous: the machine may be loaded; only a broken lock gets near it
BLOCKED = 0.2  # how long a thread that must wait is watched not to get in


class Worker:
    """A daemon thread running ``fn``; what it raises is kept for the test to report."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self._fn = fn
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._fn()
        except BaseException as e:
            self.error = e

    def finished(self, timeout: float = TIMEOUT) -> bool:
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        return not self.thread.is_alive()


def holder(
    acquire: Callable[[], AbstractContextManager[None]],
    entered: threading.Event,
    release: threading.Event | None = None,
) -> Callable[[], None]:
    """Take the lock, say so, and hold it until ``release`` (if given)."""

    def run() -> None:
        with acquire():
            entered.set()
            if release is not None and not release.wait(TIMEOUT):
                raise TimeoutError("never released")

    return run


def until(cond: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return True


def waiting_writers(lock: RWLock) -> int:
    return lock._waiting_writers  # read only, to know a writer is queued before going on


@pytest.fixture
def lock() -> Iterator[RWLock]:
    yield RWLock()


def test_readers_hold_the_lock_together(lock: RWLock) -> None:
    inside = threading.Barrier(3, timeout=TIMEOUT)  # passes only with all three inside at once

    def read() -> None:
        with lock.read():
            inside.wait()

    workers = [Worker(read) for _ in range(3)]
    assert all(w.finished() for w in workers)


def test_a_reader_waits_while_a_writer_holds_the_lock(lock: RWLock) -> None:
    release, writing, reading = threading.Event(), threading.Event(), threading.Event()
    writer = Worker(holder(lock.write, writing, release))
    assert writing.wait(TIMEOUT)
    reader = Worker(holder(lock.read, reading))
    assert not reading.wait(BLOCKED)
    release.set()
    assert reading.wait(TIMEOUT)
    assert writer.finished() and reader.finished()


def test_a_writer_waits_for_the_readers_inside(lock: RWLock) -> None:
    release, writing = threading.Event(), threading.Event()
    reading = [threading.Event(), threading.Event()]
    readers = [Worker(holder(lock.read, entered, release)) for entered in reading]
    assert all(entered.wait(TIMEOUT) for entered in reading)
    writer = Worker(holder(lock.write, writing))
    assert until(lambda: waiting_writers(lock) == 1)
    assert not writing.wait(BLOCKED)
    release.set()
    assert writing.wait(TIMEOUT)
    assert all(w.finished() for w in [*readers, writer])


def test_writers_exclude_each_other(lock: RWLock) -> None:
    release, first_in, second_in = threading.Event(), threading.Event(), threading.Event()
    first = Worker(holder(lock.write, first_in, release))
    assert first_in.wait(TIMEOUT)
    second = Worker(holder(lock.write, second_in))
    assert not second_in.wait(BLOCKED)
    release.set()
    assert second_in.wait(TIMEOUT)
    assert first.finished() and second.finished()


def test_a_waiting_writer_goes_before_readers_that_come_after_it(lock: RWLock) -> None:
    log: list[str] = []
    release, reading = threading.Event(), threading.Event()
    first = Worker(holder(lock.read, reading, release))
    assert reading.wait(TIMEOUT)

    def write() -> None:
        with lock.write():
            log.append("writer in")
            time.sleep(0.05)
            log.append("writer out")

    def late_read() -> None:
        with lock.read():
            log.append("late reader")

    writer = Worker(write)
    assert until(lambda: waiting_writers(lock) == 1)
    late = Worker(late_read)
    time.sleep(BLOCKED)
    assert log == []  # the late reader does not join the reader inside: the writer is queued
    release.set()
    assert first.finished() and writer.finished() and late.finished()
    assert log == ["writer in", "writer out", "late reader"]


def test_readers_queued_behind_a_writer_all_get_in_when_it_leaves(lock: RWLock) -> None:
    release, writing = threading.Event(), threading.Event()
    writer = Worker(holder(lock.write, writing, release))
    assert writing.wait(TIMEOUT)
    inside = threading.Barrier(4, timeout=TIMEOUT)  # every waiter is woken, not just one

    def read() -> None:
        with lock.read():
            inside.wait()

    readers = [Worker(read) for _ in range(4)]
    time.sleep(BLOCKED)
    assert inside.n_waiting == 0
    release.set()
    assert writer.finished()
    assert all(r.finished() for r in readers)


@pytest.mark.parametrize("side", ["read", "write"])
def test_an_exception_inside_releases_the_lock(lock: RWLock, side: str) -> None:
    acquire = lock.read if side == "read" else lock.write
    with pytest.raises(RuntimeError, match="boom"), acquire():
        raise RuntimeError("boom")
    for other in (lock.write, lock.read):
        got = threading.Event()
        assert Worker(holder(other, got)).finished()
        assert got.is_set()


def test_a_stream_of_readers_does_not_starve_a_writer(lock: RWLock) -> None:
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            with lock.read():
                time.sleep(0.002)

    readers = [Worker(keep_reading) for _ in range(4)]
    try:
        time.sleep(0.05)  # the readers overlap: some reader is nearly always inside

        def write_five_times() -> None:
            for _ in range(5):
                with lock.write():
                    pass

        assert Worker(write_five_times).finished()
    finally:
        stop.set()
    assert all(r.finished() for r in readers)


def test_concurrent_use_never_overlaps_a_writer_and_never_deadlocks(lock: RWLock) -> None:
    state = threading.Lock()
    active = {"readers": 0, "writers": 0}
    violations: list[str] = []
    done = {"reads": 0, "writes": 0}

    def enter(kind: str) -> None:
        with state:
            if active["writers"] or (kind == "writers" and active["readers"]):
                violations.append(f"{kind} entered with {dict(active)}")
            active[kind] += 1

    def leave(kind: str, count: str) -> None:
        with state:
            active[kind] -= 1
            done[count] += 1

    def reader() -> None:
        for _ in range(200):
            with lock.read():
                enter("readers")
                time.sleep(0)
                leave("readers", "reads")

    def writer() -> None:
        for _ in range(50):
            with lock.write():
                enter("writers")
                time.sleep(0)
                leave("writers", "writes")

    workers = [Worker(reader) for _ in range(6)] + [Worker(writer) for _ in range(2)]
    assert all(w.finished(timeout=30.0) for w in workers)
    assert violations == []
    assert done == {"reads": 6 * 200, "writes": 2 * 50}
    assert active == {"readers": 0, "writers": 0}
