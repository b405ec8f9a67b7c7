"""An imported dataset laid out as the files every job reads (the layout the synthetic
generator also writes, without its hidden truth):

- ``items.jsonl``: one API item per id, the highest version (the later import among equals),
  in the order ids were first imported; the catalog's rows follow this order;
- ``events.npz``: every event on a known item (and every search), sorted by time, with ids
  as integers: ``ts`` (seconds), ``user``, ``session``, ``request`` (-1: none), ``kind``
  (0 impression, 1 click or view, 2 add to cart, 3 purchase, 4 search), ``item`` (catalog
  row, -1 for a search), ``position`` (-1), ``query`` (line of ``queries.txt``, -1),
  ``surface`` (0 feed, 1 search);
- ``users.npz``: ``user_ids`` and ``segment`` (0: anonymous, one per anonymous session; 1: a
  known user; how much history a user has is decided at request time, engine.core.segment);
- ``queries.txt``; ``meta.json``: the time span, the cut of the temporal split and counts.

The cut (``split_ts``): jobs train and warm the online store on what happened before it and
evaluate after it. By default the time by which 90% of the events had happened. A
:class:`Protocol` (an adapter's) may set the cut, the ranker's feature time (``feature_ts``)
and how requests are replayed (``requests``); ``meta.json`` records them, and a later import
into the same directory keeps them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.arrays import I64
from ingest.imports.schema import SCHEMA_VERSION, ImportItem
from ingest.imports.store import DatasetDir
from synth.npz import save_npz

KIND = {"view": 1, "click": 1, "add_to_cart": 2, "purchase": 3, "search": 4}
ANONYMOUS_PREFIX = "~"  # anonymous pseudo-users: "~<session>" (never a valid user id)
DEFAULT_CUT_QUANTILE = 0.9


@dataclass(frozen=True, slots=True)
class Protocol:
    """How the jobs split a dataset: ``cut`` (None: the default quantile), ``feature_ts``
    (None: 60% of the way to the cut), ``requests`` (``basket`` or ``next_item``, see
    :mod:`engine.offline.replay`) and a sentence saying why."""

    cut: float | None = None
    feature_ts: float | None = None
    requests: str = "basket"
    note: str = "global temporal split"


TEMPORAL = Protocol()


def recorded_protocol(root: Path) -> Protocol:
    """The protocol of an earlier layout of ``root`` (the default when there is none)."""
    meta = root / "meta.json"
    if not meta.is_file():
        return TEMPORAL
    saved = json.loads(meta.read_text("utf-8")).get("protocol")
    return TEMPORAL if not isinstance(saved, dict) else Protocol(**saved)


def lay_out(
    root: Path, *, cut: float | None = None, protocol: Protocol | None = None
) -> dict[str, Any]:
    """Writes the job files of the dataset imported under ``root``; ``cut`` overrides the
    protocol's (default: the one recorded by an earlier layout)."""
    protocol = recorded_protocol(root) if protocol is None else protocol
    ds = DatasetDir(root)
    ids = _write_items(ds, root / "items.jsonl")
    events = _events(ds)
    row_of = pa.array(ids, pa.string())
    item = pc.fill_null(pc.index_in(events["item_id"], value_set=row_of), -1).to_numpy()
    kind = np.asarray(events["kind"].to_numpy(zero_copy_only=False), np.int8)
    keep = (item >= 0) | (kind == 4)
    unknown = int((~keep).sum())
    events = events.filter(pa.array(keep))
    item, kind = item[keep], kind[keep]
    ts = pc.divide(pc.cast(pc.cast(events["ts"], pa.int64()), pa.float64()), 1e6).to_numpy()
    order = np.argsort(ts, kind="stable")
    session, sessions = _codes(events["session_id"])
    anonymous = pc.is_null(events["user_id"])
    user_key = pc.if_else(
        anonymous,
        pc.binary_join_element_wise(ANONYMOUS_PREFIX, events["session_id"], ""),
        events["user_id"],
    )
    user, user_ids = _codes(user_key)
    segment = np.where(np.char.startswith(user_ids.astype(str), ANONYMOUS_PREFIX), 0, 1)
    request, _ = _codes(events["request_id"])
    query, queries = _codes(events["query"])
    surface = events["surface"].to_numpy(zero_copy_only=False)
    surface = np.where(surface == "search", 1, np.where(surface == "feed", 0, (query >= 0) * 1))
    position = pc.fill_null(events["position"], -1).to_numpy()
    cols = {
        "ts": ts,
        "user": user.astype(np.int32),
        "session": session,
        "request": request,
        "kind": kind,
        "item": item.astype(np.int32),
        "position": np.clip(position, -1, np.iinfo(np.int16).max).astype(np.int16),
        "query": query.astype(np.int32),
        "surface": surface.astype(np.int8),
    }
    save_npz(root / "events.npz", {k: v[order] for k, v in cols.items()})
    save_npz(
        root / "users.npz",
        {"segment": segment.astype(np.int8), "user_ids": user_ids.astype(str)},
    )
    (root / "queries.txt").write_text("".join(f"{q}\n" for q in queries.tolist()), "utf-8")
    given = cut if cut is not None else protocol.cut
    meta = _meta(ts, kind, given, len(ids), len(queries), unknown, segment, len(sessions))
    meta.update(
        protocol=asdict(protocol), requests=protocol.requests, feature_ts=protocol.feature_ts
    )
    if (
        meta["feature_ts"] is not None
        and not meta["start"] <= meta["feature_ts"] < meta["split_ts"]
    ):
        meta["feature_ts"] = None  # a cut given by hand moved the split before it
    (root / "meta.json").write_text(json.dumps(meta, indent=2), "utf-8")
    return meta


def _write_items(ds: DatasetDir, path: Path) -> list[str]:
    table = ds.table("items")
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for row in [] if table is None else table.to_pylist():
        v = int(row["version"])
        if row["id"] not in best or v >= best[row["id"]][0]:
            best[row["id"]] = (v, row)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for _, row in best.values():  # dicts keep first-insertion order
            fields = {k: v for k, v in row.items() if v is not None}
            fields["attributes"] = dict(fields.get("attributes") or [])
            fh.write(ImportItem.model_validate(fields).to_item().model_dump_json().encode())
            fh.write(b"\n")
    tmp.replace(path)
    return list(best)


def _events(ds: DatasetDir) -> pa.Table:
    names = ["ts", "user_id", "session_id", "kind", "item_id", "query", "position",
             "surface", "request_id"]  # fmt: skip
    parts = []
    events = ds.table("events", names)
    if events is not None:
        kind = pc.cast(
            pc.index_in(events["kind"], value_set=pa.array(list(KIND))), pa.int64()
        ).to_numpy(zero_copy_only=False)
        codes = np.array(list(KIND.values()), np.int8)[kind]
        parts.append(events.set_column(3, "kind", pa.array(codes)))
    shown = ds.table("impressions")
    if shown is not None:
        n = shown.num_rows
        parts.append(
            pa.table({
                **{c: shown[c] for c in ("ts", "user_id", "session_id", "item_id", "query",
                                         "position", "surface", "request_id")},
                "kind": pa.array(np.zeros(n, np.int8)),
            }).select(names)
        )  # fmt: skip
    if not parts:  # a catalog without behaviour (a cold start): no events
        return pa.table(
            {n: pa.array([], pa.int8() if n == "kind" else _EMPTY.get(n, pa.string()))
             for n in names}
        )  # fmt: skip
    return pa.concat_tables(parts, promote_options="default")


_EMPTY = {"ts": pa.timestamp("us", tz="UTC"), "position": pa.int32()}


def _codes(column: pa.ChunkedArray) -> tuple[I64, np.ndarray]:
    """Integer codes in order of first appearance (-1 for null) and the distinct values."""
    enc = pc.dictionary_encode(column).combine_chunks()
    codes = pc.fill_null(enc.indices, -1).to_numpy().astype(np.int64)
    return codes, enc.dictionary.to_numpy(zero_copy_only=False)


def _meta(
    ts: np.ndarray,
    kind: np.ndarray,
    cut: float | None,
    items: int,
    queries: int,
    unknown: int,
    segment: np.ndarray,
    sessions: int,
) -> dict[str, Any]:
    if len(ts) == 0:  # no behaviour: an empty history
        start, end = 0.0, 1.0
        split = 0.5 if cut is None else float(cut)
    else:
        start, end = float(ts.min()), float(ts.max()) + 1.0
        split = float(np.quantile(ts, DEFAULT_CUT_QUANTILE)) if cut is None else float(cut)
    if not start <= split <= end:
        raise ValueError(f"the cut {split} is not inside the events' time span [{start}, {end}]")
    names = {0: "impression", 1: "click", 2: "add_to_cart", 3: "purchase", 4: "search"}
    return {
        "source": "import",
        "schema_version": SCHEMA_VERSION,
        "start": start,
        "end": end,
        "split_ts": split,
        "cut": "given"
        if cut is not None
        else "no events"
        if len(ts) == 0
        else f"quantile {DEFAULT_CUT_QUANTILE} of event times",
        "counts": {
            "items": items,
            "events": len(ts),
            "events_by_kind": {names[k]: int((kind == k).sum()) for k in names},
            "events_on_unknown_items": unknown,
            "queries": queries,
            "users": int((segment == 1).sum()),
            "anonymous_sessions": int((segment == 0).sum()),
            "sessions": sessions,
        },
        "event_kinds": {str(k): v for k, v in names.items()},
        "segments": {"0": "anonymous", "1": "known"},
        "surfaces": {"0": "feed", "1": "search"},
    }
