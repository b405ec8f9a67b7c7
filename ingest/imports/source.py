"""What an import reads: a named stream of rows of one record kind, with a fingerprint.

A file in the schema's columns (:mod:`ingest.imports.readers`) and an adapter's output for a
known public dataset (:mod:`ingest.imports.adapters`) are both a :class:`Source`. Each row
comes with where it was found (file and line, or file, row group and row) so that an error
can name it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.imports.schema import Kind

#: where a row was found, and the row (schema column -> value) or why it could not be read
Located = tuple[str, dict[str, Any] | str]


@dataclass(frozen=True)
class Source:
    kind: Kind
    label: str  # what the user named: a file, or "adapter:file"
    rows: Callable[[], Iterator[Located]]  # a fresh pass over the rows at each call
    fingerprint: str  # equal fingerprints: the same rows (a re-import is a no-op)
    total: int | None = None  # rows, when known up front (for progress)


def file_digest(paths: Iterable[Path], salt: str = "") -> str:
    """sha256 over the bytes of ``paths`` (streamed) and ``salt``: a source's fingerprint."""
    h = hashlib.sha256(salt.encode())
    for path in paths:
        h.update(str(Path(path).name).encode())
        with Path(path).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:24]
