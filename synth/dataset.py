"""Reading a dataset back (imported, or synthesised in the same layout): columns as numpy
arrays, items streamed from JSONL.

Files (see :mod:`ingest.imports.layout`): ``items.jsonl``, ``events.npz``, ``users.npz``,
``queries.txt``, ``meta.json``. A synthetic world's hidden truth lies apart, in
``simulation/`` (:mod:`synth.truth`), and nothing here reads it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

EVENT_COLUMNS = ("ts", "user", "session", "request", "kind", "item", "position", "query", "surface")
USER_COLUMNS = ("segment", "user_ids")
FILES = ("items.jsonl", "events.npz", "users.npz", "queries.txt", "meta.json")


@dataclass(frozen=True)
class SynthDataset:
    items_path: Path
    events: dict[str, np.ndarray]
    #: ``segment``: 0 anonymous (one pseudo-user per session), 1 a known user
    users: dict[str, np.ndarray]
    queries: list[str]
    meta: dict[str, Any]

    @property
    def split_ts(self) -> float:
        return float(self.meta["split_ts"])

    @property
    def n_items(self) -> int:
        return int(self.meta["counts"]["items"])


def npz_columns(
    path: Path, required: tuple[str, ...], *, same_length: bool
) -> dict[str, np.ndarray]:
    """The arrays of ``path``, with an error naming the file when one is missing or unreadable
    (``same_length``: all of the same length)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [c for c in required if c not in out]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    if same_length:
        lengths = {c: len(out[c]) for c in required}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{path}: columns differ in length {lengths}")
    return out


def load_dataset(data_dir: Path) -> SynthDataset:
    """Load everything but the item JSON (stream that with :func:`iter_items`)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory not found: {data_dir}")
    missing = [f for f in FILES if not (data_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{data_dir}: missing {', '.join(missing)} (run `shopnow import` or `shopnow synth`)"
        )
    try:
        meta = json.loads((data_dir / "meta.json").read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{data_dir / 'meta.json'}: invalid JSON ({exc})") from None
    if not isinstance(meta, dict) or "split_ts" not in meta or "counts" not in meta:
        raise ValueError(f"{data_dir / 'meta.json'}: missing 'split_ts' or 'counts'")
    events = npz_columns(data_dir / "events.npz", EVENT_COLUMNS, same_length=True)
    users = npz_columns(data_dir / "users.npz", USER_COLUMNS, same_length=True)
    queries = (data_dir / "queries.txt").read_text("utf-8").splitlines()
    n_items, n_users = int(meta["counts"].get("items", 0)), len(users["segment"])
    checks = {
        "events": (len(events["ts"]), meta["counts"].get("events")),
        "queries": (len(queries), meta["counts"].get("queries")),
    }
    for name, (got, want) in checks.items():
        if got != want:
            raise ValueError(f"{data_dir}: {name} count {got} does not match {want}")
    if len(events["ts"]) and (events["item"].max() >= n_items or events["user"].max() >= n_users):
        raise ValueError(f"{data_dir}: events reference unknown items or users")
    return SynthDataset(data_dir / "items.jsonl", events, users, queries, meta)


def iter_items(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of ``items.jsonl`` as dicts, in row order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"items file not found: {path}")
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            yield obj
