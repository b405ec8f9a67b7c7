"""Write-ahead log of catalog changes made through the API (append + fsync), replayed at start.

Versions make replay idempotent: applying the log twice ends in the same catalog.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from engine.catalog import Catalog
from engine.contracts import Item


class CatalogLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, records: Sequence[dict[str, Any]]) -> None:
        with self.path.open("ab") as fh:
            fh.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
            fh.flush()
            os.fsync(fh.fileno())

    def upserts(self, items: Sequence[Item]) -> None:
        self._append([{"op": "upsert", "item": it.model_dump(mode="json")} for it in items])

    def delete(self, item_id: str, version: int) -> None:
        self._append([{"op": "delete", "id": item_id, "version": version}])

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.is_file():
            return
        with self.path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    if fh.read(1):  # only a torn last line (crash mid-write) is tolerated
                        raise ValueError(f"{self.path}:{lineno}: corrupt log record") from None

    def replay(self, catalog: Catalog) -> int:
        n = 0
        for rec in self.records():
            if rec["op"] == "upsert":
                n += len(catalog.upsert([Item.model_validate(rec["item"])]).applied)
            elif rec["op"] == "delete":
                n += catalog.delete(rec["id"], int(rec["version"]))
        return n
