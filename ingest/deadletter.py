"""Dead letters: records that cannot be applied, kept with the reason (JSON lines, fsynced).

Nothing malformed is dropped silently: a bad line of a JSONL file or a log record that fails
validation lands here with its source (file and line, or log offset) and the error, and so
does a log record whose application kept failing (a *poison* record). Log records found here
are never applied again: not by the worker after a restart, not by the catalog's replay.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

DEAD_LETTER_FILE = "dead-letters.jsonl"
LOG_SOURCE = "log offset "  # the source of a dead letter taken from the ingest log


def log_source(offset: int) -> str:
    return f"{LOG_SOURCE}{offset}"


def fingerprint(body: Any) -> bytes:
    """Identifies a log record's body, so that a dead letter names the record at its offset
    and not whatever a log started afresh later holds there."""
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


class DeadLog:
    """The ingest-log records among the dead letters: offset -> (fingerprint, reason)."""

    def __init__(self, known: dict[int, tuple[bytes, str]] | None = None) -> None:
        self.known = known or {}

    def reason(self, offset: int, body: Any) -> str | None:
        """Why the record at ``offset`` with ``body`` was dead-lettered, or None if it was not."""
        got = self.known.get(offset)
        return got[1] if got is not None and got[0] == fingerprint(body) else None

    def add(self, offset: int, body: Any, reason: str) -> None:
        """The first reason of a record is kept; another record at the offset (a log started
        afresh) replaces it."""
        fp = fingerprint(body)
        got = self.known.get(offset)
        if got is None or got[0] != fp:
            self.known[offset] = (fp, reason)


class DeadLetters:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / DEAD_LETTER_FILE
        self.count = 0

    def add(self, source: str, reason: str, record: Any) -> None:
        self.add_many([(source, reason, record)])

    def add_many(self, letters: list[tuple[str, str, Any]]) -> None:
        if not letters:
            return
        now = time.time()
        with self.path.open("ab") as fh:
            # the processes sharing one ingest log each meet its bad records: the first to
            # write a log record's letter writes it, the others find it there
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                if any(s.startswith(LOG_SOURCE) for s, _, _ in letters):
                    have = set(self._log_letters())
                    letters = [x for x in letters if (x[0], fingerprint(x[2])) not in have]
                lines = b"".join(
                    orjson.dumps({"at": now, "source": s, "reason": r, "record": rec}) + b"\n"
                    for s, r, rec in letters
                )
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        self.count += len(letters)

    def _log_letters(self) -> Iterator[tuple[str, bytes]]:
        """(source, record fingerprint) of the letters taken from the ingest log."""
        with self.path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    letter = orjson.loads(line)
                    source = str(letter.get("source", ""))
                    if source.startswith(LOG_SOURCE):
                        yield source, fingerprint(letter.get("record"))

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as fh:
            return [orjson.loads(line) for line in fh if line.strip()]

    def from_log(self) -> DeadLog:
        """The dead letters taken from the ingest log (the first reason of each offset)."""
        dead = DeadLog()
        for letter in self.read():
            source = letter.get("source")
            if isinstance(source, str) and source.startswith(LOG_SOURCE):
                offset = source[len(LOG_SOURCE) :]
                if offset.isdigit():
                    dead.add(int(offset), letter.get("record"), str(letter.get("reason", "")))
        return dead
