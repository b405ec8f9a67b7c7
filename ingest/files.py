"""Catalog changes from a JSONL file, resumable.

Each line is an item (the ``PUT /v1/items`` item object) or a change record with ``"op"``:
``{"op": "upsert", "item": {...}}`` or ``{"op": "delete", "id": ..., "version": ...}``. A line
that is not a JSON object goes to the dead letters with its line number; everything else is
appended to the ingest log (validation follows there). A cursor file beside the log remembers
how many lines were accepted, so an interrupted run continues where it stopped; a crash between
an append and the cursor update appends a few changes twice, which versions make harmless.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ingest.log import upsert_body

Line = tuple[int, dict[str, Any], str]  # line number, change body (or the raw line), error


def changes(path: Path, skip: int = 0) -> Iterator[Line]:
    """``(line number, body, "")`` per change, ``(line number, {"raw": line}, reason)`` per
    bad line; the first ``skip`` lines are passed over. Blank lines count but yield nothing."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n <= skip or not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield n, {"raw": raw.decode(errors="replace")}, f"not JSON: {exc}"
                continue
            if not isinstance(obj, dict):
                why = f"expected a JSON object, not {type(obj).__name__}"
                yield n, {"raw": raw.decode(errors="replace")}, why
            elif "op" in obj:
                yield n, obj, ""
            else:
                yield n, upsert_body(obj), ""


class FileCursor:
    """Lines of one input file already accepted into the log (keyed by its resolved path)."""

    def __init__(self, directory: Path, source: Path) -> None:
        key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
        self.path = directory / "cursors" / f"{source.name}.{key}"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def get(self) -> int:
        return int(self.path.read_text()) if self.path.is_file() else 0

    def set(self, lines: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            fh.write(str(lines))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
