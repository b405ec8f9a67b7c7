"""The import: every row of a source validated by the schema, good rows written to the
dataset's Parquet part, bad rows to its quarantine file with where, which field and why."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from ingest.imports.schema import MODELS, ImportItem, Kind
from ingest.imports.source import Source
from ingest.imports.store import DatasetDir, Imported

BATCH = 50_000
_TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
ARROW: dict[Kind, pa.Schema] = {
    "items": pa.schema(
        [
            ("id", _STR),
            ("title", _STR),
            ("description", _STR),
            ("category", pa.list_(_STR)),
            ("brand", _STR),
            ("seller", _STR),
            ("price", pa.float64()),
            ("currency", _STR),
            ("stock", pa.int64()),
            ("created_at", _TS),
            ("updated_at", _TS),
            ("version", pa.int64()),
            ("attributes", pa.map_(_STR, _STR)),
            ("seller_rating", pa.float64()),
            ("seller_order_count", pa.int64()),
            ("cost_price", pa.float64()),
        ]
    ),
    "events": pa.schema(
        [
            ("ts", _TS),
            ("user_id", _STR),
            ("session_id", _STR),
            ("kind", _STR),
            ("item_id", _STR),
            ("query", _STR),
            ("position", pa.int32()),
            ("surface", _STR),
            ("request_id", _STR),
            ("quantity", pa.int64()),
        ]
    ),
    "impressions": pa.schema(
        [
            ("ts", _TS),
            ("request_id", _STR),
            ("user_id", _STR),
            ("session_id", _STR),
            ("surface", _STR),
            ("query", _STR),
            ("item_id", _STR),
            ("position", pa.int32()),
        ]
    ),
}


@dataclass
class Outcome:
    entry: Imported
    skipped: bool  # already imported: nothing was read
    errors: list[str] = field(default_factory=list)  # the first bad rows, for the user
    quarantine: Path | None = None


def import_source(
    source: Source, dataset: DatasetDir, *, progress: bool = True, show: int = 5
) -> Outcome:
    done = dataset.has(source.fingerprint)
    if done is not None:
        return Outcome(done, skipped=True)
    part = dataset.part(source.kind, source.fingerprint)
    bad_path = dataset.quarantine(source.kind, source.fingerprint)
    for p in (part, bad_path):
        p.parent.mkdir(parents=True, exist_ok=True)
    tmp_part, tmp_bad = part.with_suffix(".tmp"), bad_path.with_suffix(".tmp")
    schema = ARROW[source.kind]
    rows = good = bad = 0
    errors: list[str] = []
    with (
        pq.ParquetWriter(tmp_part, schema) as writer,
        tmp_bad.open("wb") as quarantine,
        tqdm(total=source.total, desc=source.label, unit=" rows", disable=not progress) as bar,
    ):
        for chunk in _chunks(_validated(source, quarantine, errors, show), BATCH):
            rows += len(chunk)
            valid = [r for r in chunk if r is not None]
            good += len(valid)
            bad += len(chunk) - len(valid)
            if valid:
                writer.write_table(pa.Table.from_pylist(valid, schema=schema))
            bar.update(len(chunk))
    os.replace(tmp_part, part)
    if bad:
        os.replace(tmp_bad, bad_path)
    else:
        tmp_bad.unlink()
    entry = Imported(source.kind, source.label, source.fingerprint, rows, good, bad)
    dataset.record(entry)
    return Outcome(entry, skipped=False, errors=errors, quarantine=bad_path if bad else None)


def _validated(
    source: Source, quarantine: Any, errors: list[str], show: int
) -> Iterator[dict[str, Any] | None]:
    """The source's rows as Arrow-ready dicts; None for a row sent to quarantine."""
    model = MODELS[source.kind]
    for where, row in source.rows():
        if isinstance(row, str):
            problems = [("(row)", row)]
            raw: Any = None
        else:
            try:
                yield _columns(model.model_validate(row))
                continue
            except ValidationError as exc:
                problems = [
                    (".".join(str(p) for p in e["loc"]) or "(row)", e["msg"]) for e in exc.errors()
                ]
                raw = row
        for name, why in problems:
            rec = {"where": where, "field": name, "error": why, "row": raw}
            quarantine.write(orjson.dumps(rec, default=str) + b"\n")
            if len(errors) < show:
                errors.append(f"{where}: {name}: {why}")
        yield None


def _columns(m: BaseModel) -> dict[str, Any]:
    out = {k: (v.value if isinstance(v, Enum) else v) for k, v in m.__dict__.items()}
    if isinstance(m, ImportItem):
        out["version"] = m.effective_version()
        out["attributes"] = list(m.attributes.items())
    return out


def _chunks(rows: Iterator[dict[str, Any] | None], n: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_all(sources: Sequence[Source], into: Path, *, progress: bool = True) -> list[Outcome]:
    dataset = DatasetDir(into)
    return [import_source(s, dataset, progress=progress) for s in sources]
