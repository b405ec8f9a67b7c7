"""The imported dataset on disk: one Parquet part per imported source, a manifest, and the
quarantine of rows that failed the schema.

::

    <dataset>/manifest.json                 schema version; per source: kind, label,
                                            fingerprint, rows, imported, quarantined
    <dataset>/{items,events,impressions}/<fingerprint>.parquet
    <dataset>/quarantine/<kind>-<fingerprint>.jsonl   one line per bad row: where, field, why

A part is written under a temporary name and renamed when complete, then the manifest is
rewritten (also by rename): an interrupted import leaves no partial part, and running it
again imports the source again. A source whose fingerprint is in the manifest is not imported
twice.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.imports.schema import SCHEMA_VERSION, Kind

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Imported:
    kind: Kind
    label: str
    fingerprint: str
    rows: int
    imported: int
    quarantined: int


class DatasetDir:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.is_file():
            return {"schema_version": SCHEMA_VERSION, "sources": []}
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a dataset manifest ({exc})") from None
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{path}: schema version {data.get('schema_version')}, this engine reads "
                f"{SCHEMA_VERSION}"
            )
        return dict(data)

    def sources(self) -> list[Imported]:
        return [Imported(**s) for s in self.manifest()["sources"]]

    def has(self, fingerprint: str) -> Imported | None:
        return next((s for s in self.sources() if s.fingerprint == fingerprint), None)

    def part(self, kind: Kind, fingerprint: str) -> Path:
        return self.root / kind / f"{fingerprint}.parquet"

    def quarantine(self, kind: Kind, fingerprint: str) -> Path:
        return self.root / "quarantine" / f"{kind}-{fingerprint}.jsonl"

    def record(self, entry: Imported) -> None:
        data = self.manifest()
        data["sources"] = [s for s in data["sources"] if s["fingerprint"] != entry.fingerprint]
        data["sources"].append(asdict(entry))
        _replace(self.root / MANIFEST, orjson.dumps(data, option=orjson.OPT_INDENT_2))

    def parts(self, kind: Kind) -> list[Path]:
        """The parts of ``kind`` in import order."""
        return [
            self.part(kind, s.fingerprint)
            for s in self.sources()
            if s.kind == kind and s.imported and self.part(kind, s.fingerprint).is_file()
        ]

    def table(self, kind: Kind, columns: list[str] | None = None) -> pa.Table | None:
        parts = self.parts(kind)
        if not parts:
            return None
        return pa.concat_tables(
            [pq.read_table(p, columns=columns) for p in parts], promote_options="default"
        )


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
