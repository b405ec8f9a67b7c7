"""Dead letters: records that cannot be applied, kept with the reason (JSON lines, fsynced).

Nothing malformed is dropped silently: a bad line of a JSONL file or a log record that fails
validation lands here with its source (file and line, or log offset) and the error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

DEAD_LETTER_FILE = "dead-letters.jsonl"


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
        lines = b"".join(
            orjson.dumps({"at": now, "source": s, "reason": r, "record": rec}) + b"\n"
            for s, r, rec in letters
        )
        with self.path.open("ab") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())
        self.count += len(letters)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as fh:
            return [orjson.loads(line) for line in fh if line.strip()]
