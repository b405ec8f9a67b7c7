"""Files in the schema's columns as import sources: JSONL, CSV or Parquet, streamed.

Parquet is read with pyarrow, one record batch of one row group at a time: memory stays
bounded by the batch whatever the file's size, and a bad row is named by its row group and
row. CSV is read with the standard library's C reader, line by line: pyarrow's streaming CSV
reader cannot tell the line of a malformed row, and every cell goes through the schema's
validation anyway, so a columnar parse would save nothing. Cells are text typed by the schema:
a bad cell is one bad row, never a failed file. JSONL is parsed line by line with orjson, so
that one malformed line is one bad row. A file whose header lacks a required column or has a
column the schema does not know is refused before anything is imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.imports.schema import Kind, columns, required
from ingest.imports.source import Located, Source, file_digest

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
BATCH = 50_000


class BadFile(ValueError):
    """The file cannot be imported at all (format, header); nothing of it was imported."""


def file_source(path: Path, kind: Kind) -> Source:
    path = Path(path)
    if not path.is_file():
        raise BadFile(f"{path}: no such file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadFile(f"{path}: unknown format {path.suffix!r}; give .jsonl, .csv or .parquet")
    total = None
    if fmt == "parquet":
        try:
            meta = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadFile(f"{path}: not a readable Parquet file ({exc})") from None
        _check_header(path, kind, meta.schema_arrow.names)
        total = meta.metadata.num_rows
    elif fmt == "csv":
        _check_header(path, kind, _csv_header(path))
    else:
        first = next((row for _, row in _jsonl(path, kind) if isinstance(row, dict)), None)
        if first is not None:  # unknown keys in the first object: the wrong kind of file
            _check_header(path, kind, list(first), need=False)
    reader = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[fmt]
    return Source(
        kind, str(path), lambda: reader(path, kind), file_digest([path], salt=kind), total
    )


def _check_header(path: Path, kind: Kind, names: list[str], need: bool = True) -> None:
    unknown = sorted(set(names) - set(columns(kind)))
    missing = [c for c in required(kind) if c not in names] if need else []
    if unknown or missing:
        raise BadFile(
            f"{path}: {kind} columns unknown {unknown}, missing {missing}; the schema's "
            f"columns are {list(columns(kind))} (docs/data.md)"
        )


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise BadFile(f"{path}: empty CSV file (expected a header row)")
    return [h.strip() for h in header]


def _jsonl(path: Path, kind: Kind) -> Iterator[Located]:
    name = path.name
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield f"{name}:{n}", f"invalid JSON ({exc})"
                continue
            yield f"{name}:{n}", obj if isinstance(obj, dict) else "expected a JSON object"


def _csv(path: Path, kind: Kind) -> Iterator[Located]:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        names = [h.strip() for h in next(reader)]
        for cells in reader:
            where = f"{path.name}:{reader.line_num}"
            if not cells:
                continue
            if len(cells) != len(names):
                yield where, f"{len(cells)} cells where the header has {len(names)}"
                continue
            yield where, {k: v for k, v in zip(names, cells, strict=True) if v != ""}


def _parquet(path: Path, kind: Kind) -> Iterator[Located]:
    f = pq.ParquetFile(path)
    for group in range(f.metadata.num_row_groups):
        i = 0
        for batch in f.iter_batches(batch_size=BATCH, row_groups=[group]):
            for row in batch.to_pylist():
                yield (
                    f"{path.name} row group {group} row {i}",
                    {k: v for k, v in row.items() if v is not None},
                )
                i += 1
