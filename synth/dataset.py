"""Reading a generated marketplace back: columns as numpy arrays, items streamed from JSONL.

Files (see :func:`synth.generate.generate`): ``items.jsonl``, ``items_columns.npz``,
``events.npz``, ``requests.npz``, ``users.npz``, ``queries.txt``, ``truth.npz``, ``meta.json``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

EVENT_COLUMNS = ("ts", "user", "session", "request", "kind", "item", "position", "query", "surface")
REQUEST_COLUMNS = ("request", "ts", "user", "session", "surface", "query")
USER_COLUMNS = ("segment", "user_ids")
ITEM_COLUMNS = ("category", "brand", "seller", "price", "in_stock", "created_at", "variant_group")
TRUTH_COLUMNS = ("user_pref", "item_vec", "item_quality", "complement_of")
FILES = ("items.jsonl", "events.npz", "users.npz", "queries.txt", "meta.json")
#: written by the generator only: an imported dataset has none of them (no job needs them;
#: the hidden truth is read only by the simulation experiments)
GENERATOR_FILES = ("items_columns.npz", "requests.npz", "truth.npz")


@dataclass(frozen=True)
class SynthDataset:
    items_path: Path
    events: dict[str, np.ndarray]
    requests: dict[str, np.ndarray]
    users: dict[str, np.ndarray]
    queries: list[str]
    truth: dict[str, np.ndarray]
    meta: dict[str, Any]
    #: ``items_columns.npz``: columns aligned with the rows of ``items.jsonl``
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def split_ts(self) -> float:
        return float(self.meta["split_ts"])

    @property
    def n_items(self) -> int:
        return len(self.columns["category"]) if self.columns else int(self.meta["counts"]["items"])


def _npz(path: Path, required: tuple[str, ...], same_length: bool) -> dict[str, np.ndarray]:
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
    generated = (data_dir / "truth.npz").is_file()
    columns = _npz(data_dir / "items_columns.npz", ITEM_COLUMNS, True) if generated else {}
    events = _npz(data_dir / "events.npz", EVENT_COLUMNS, True)
    requests = _npz(data_dir / "requests.npz", REQUEST_COLUMNS, True) if generated else {}
    users = _npz(data_dir / "users.npz", USER_COLUMNS, True)
    truth = _npz(data_dir / "truth.npz", TRUTH_COLUMNS, False) if generated else {}
    queries = (data_dir / "queries.txt").read_text("utf-8").splitlines()
    n_items, n_users = int(meta["counts"].get("items", 0)), len(users["segment"])
    checks = {
        "items": (len(columns["category"]) if columns else n_items, n_items),
        "item_vec rows": (len(truth["item_vec"]) if truth else n_items, n_items),
        "user_pref rows": (len(truth["user_pref"]) if truth else n_users, n_users),
        "events": (len(events["ts"]), meta["counts"].get("events")),
        "queries": (len(queries), meta["counts"].get("queries")),
    }
    for name, (got, want) in checks.items():
        if got != want:
            raise ValueError(f"{data_dir}: {name} count {got} does not match {want}")
    if len(events["ts"]) and (events["item"].max() >= n_items or events["user"].max() >= n_users):
        raise ValueError(f"{data_dir}: events reference unknown items or users")
    return SynthDataset(
        data_dir / "items.jsonl", events, requests, users, queries, truth, meta, columns
    )


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
