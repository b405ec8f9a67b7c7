"""The durable ingest log: every accepted catalog change, in order, with its offset.

A change is *accepted* once its line is written and fsynced; only then does the API answer. The
catalog is rebuilt at start by replaying the whole log (versions make a replay idempotent), and
the index by replaying what follows the *checkpoint*: the offset below which every change is
durable in the search backend. The checkpoint file is replaced atomically, so a crash leaves
either the old or the new value, never a torn one; a torn last log line (a crash mid-append,
never acknowledged) is cut off when the log is opened.

Records are JSON lines ``{"offset": n, "at": unix_seconds, "op": "upsert", "item": {...}}`` or
``{"offset": n, "at": ..., "op": "delete", "id": ..., "version": ...}``. ``item`` is kept as
received: validation happens downstream, and what fails it goes to the dead-letter file.

Several processes may share one log (``shopnow serve --workers N``): an append takes an
exclusive ``flock`` on the file and first counts what the others appended, so offsets stay
dense and unique; each process follows the others with :meth:`IngestLog.refresh` and keeps its
own checkpoint (its own index copy), while the log itself is one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

LOG_FILE = "ingest.log.jsonl"
CHECKPOINT_FILE = "ingest.checkpoint"


class LogFull(RuntimeError):
    """More changes are waiting for the index than the log's capacity allows."""

    def __init__(self, pending: int, capacity: int, retry_after_s: int) -> None:
        super().__init__(
            f"ingest log full: {pending:,} changes wait to be indexed (capacity {capacity:,}); "
            f"retry in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    at: float  # acceptance time
    body: dict[str, Any]  # "op" and its fields


def upsert_body(item: dict[str, Any]) -> dict[str, Any]:
    return {"op": "upsert", "item": item}


def delete_body(item_id: str, version: int) -> dict[str, Any]:
    return {"op": "delete", "id": item_id, "version": version}


class IngestLog:
    """Append-only, fsynced; ``capacity`` bounds the changes not yet checkpointed.
    ``checkpoint``: this process's checkpoint file (default: beside the log)."""

    def __init__(
        self, directory: Path, capacity: int = 200_000, checkpoint: Path | None = None
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LOG_FILE
        self._ckpt = checkpoint if checkpoint is not None else directory / CHECKPOINT_FILE
        self._ckpt.parent.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity
        self._lock = threading.Lock()
        self._end = 0  # byte offset of the end of record ``next_offset - 1``
        with self._flocked(fcntl.LOCK_EX):
            self.next_offset = self._recover()
        self.checkpoint = self._read_checkpoint()

    @contextlib.contextmanager
    def _flocked(self, how: int) -> Iterator[None]:
        """The log file locked against the other processes sharing it."""
        self.path.touch()
        with self.path.open("rb") as fh:
            fcntl.flock(fh.fileno(), how)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- opening ----------------------------------------------------------------------------
    def _recover(self) -> int:
        """Count the records, cutting off a torn last line; returns the next offset."""
        n, good = 0, 0
        with self.path.open("rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn tail: never acknowledged
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise ValueError(f"{self.path}: corrupt record at byte {good}") from None
                if rec.get("offset") != n:
                    raise ValueError(f"{self.path}: offset {rec.get('offset')} where {n} expected")
                n += 1
                good += len(line)
        if good != self.path.stat().st_size:
            with self.path.open("r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())
        self._end = good
        return n

    def _count_new(self) -> None:
        """Move past the records other processes appended since this one last looked (the
        caller holds the file lock, so no line is half written)."""
        if self.path.stat().st_size == self._end:
            return
        with self.path.open("rb") as fh:
            fh.seek(self._end)
            for line in fh:
                if not line.endswith(b"\n"):
                    break
                self.next_offset += 1
                self._end += len(line)

    def behind(self) -> bool:
        """Whether the file holds more than this process has counted (one ``stat``)."""
        return self.path.stat().st_size != self._end

    def refresh(self) -> int:
        """Follow what other processes appended; returns the next offset."""
        with self._lock:
            if self.behind():
                with self._flocked(fcntl.LOCK_SH):
                    self._count_new()
            return self.next_offset

    def _read_checkpoint(self) -> int:
        if not self._ckpt.is_file():
            return 0
        value = int(self._ckpt.read_text().strip() or 0)
        if not 0 <= value <= self.next_offset:
            raise ValueError(
                f"{self._ckpt}: checkpoint {value} outside the log (0..{self.next_offset})"
            )
        return value

    # -- writing ----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Accepted changes not yet durable in the index."""
        return self.next_offset - self.checkpoint

    def append(self, bodies: Sequence[dict[str, Any]], now: float | None = None) -> range:
        """Write and fsync ``bodies``; returns their offsets. Raises :class:`LogFull`."""
        at = time.time() if now is None else now
        with self._lock, self._flocked(fcntl.LOCK_EX):
            self._count_new()
            if self.path.stat().st_size > self._end:  # another process died mid-append:
                with self.path.open("r+b") as fh:  # its torn line was never acknowledged
                    fh.truncate(self._end)
            if self.pending + len(bodies) > self.capacity:
                raise LogFull(self.pending, self.capacity, retry_after_s=5)
            first = self.next_offset
            lines = b"".join(
                orjson.dumps({"offset": first + i, "at": at, **b}) + b"\n"
                for i, b in enumerate(bodies)
            )
            with self.path.open("ab") as fh:
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
            self.next_offset = first + len(bodies)
            self._end += len(lines)
        return range(first, first + len(bodies))

    def commit(self, offset: int) -> None:
        """Every change below ``offset`` is durable in the index."""
        if not self.checkpoint <= offset <= self.next_offset:
            raise ValueError(f"checkpoint {offset} outside {self.checkpoint}..{self.next_offset}")
        if offset == self.checkpoint:
            return
        tmp = self._ckpt.with_name(self._ckpt.name + ".tmp")
        with tmp.open("w") as fh:
            fh.write(str(offset))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._ckpt)
        self.checkpoint = offset

    # -- reading ----------------------------------------------------------------------------
    def records(self, start: int = 0) -> Iterator[Record]:
        """Records from offset ``start`` to the end as of the call."""
        end = self.next_offset
        with self.path.open("rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                off = rec.pop("offset")
                if off >= end:
                    return
                if off >= start:
                    yield Record(off, rec.pop("at"), rec)


class LogReader:
    """Reads a log forward from an offset, keeping its file position between calls."""

    def __init__(self, log: IngestLog, start: int) -> None:
        self.log = log
        self.offset = start
        self._pos = 0
        # the worker reads while monitoring threads peek: the offset and file position move
        # together, under this lock
        self._lock = threading.Lock()
        self._skip_to(start)

    def _skip_to(self, start: int) -> None:
        with self.log.path.open("rb") as fh:
            for _ in range(start):
                if not fh.readline():
                    raise ValueError(f"offset {start} is past the end of {self.log.path}")
            self._pos = fh.tell()

    def peek(self) -> Record | None:
        """The record at the current offset, without moving past it (None at the end)."""
        with self._lock:
            if self.offset >= self.log.next_offset:
                return None
            with self.log.path.open("rb") as fh:
                fh.seek(self._pos)
                rec = orjson.loads(fh.readline())
        return Record(rec.pop("offset"), rec.pop("at"), rec)

    def read(self, limit: int) -> list[Record]:
        """Up to ``limit`` records from the current offset (fewer at the end)."""
        with self._lock:
            end = min(self.log.next_offset, self.offset + limit)
            out: list[Record] = []
            if end <= self.offset:
                return out
            with self.log.path.open("rb") as fh:
                fh.seek(self._pos)
                while self.offset + len(out) < end:
                    line = fh.readline()
                    rec = orjson.loads(line)
                    off = rec.pop("offset")
                    out.append(Record(off, rec.pop("at"), rec))
                self._pos = fh.tell()
            self.offset += len(out)
        return out
