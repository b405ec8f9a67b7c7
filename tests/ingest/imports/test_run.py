"""`shopnow import` on files with bad rows in each format: every bad row is named by file,
line (or row group and row) and field and kept in the quarantine with its reason; the rest is
imported; importing the same file again changes nothing; a file of the wrong shape is refused
whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.app.cli import main
from ingest.imports.readers import BadFile, file_source
from ingest.imports.run import import_all
from ingest.imports.store import DatasetDir

ITEMS_CSV = """id,title,price,created_at,category,brand,attributes
a1,Red mug,4.5,2024-01-02,Home > Kitchen,casa,"{""colour"": ""red""}"
a2,,3,2024-01-02,Home,casa,
a3,Blue mug,abc,2024-01-02,Home,casa,
a4,Green mug,5,2024-01-03,Home,casa,x,extra
a5,Big mug,6,not-a-date,Home,casa,
a6,Tea pot,20,2024-01-05,Home > Kitchen,casa,"{""size"": ""1l""}"
"""
EVENTS = [
    {"ts": "2024-02-01T10:00:00Z", "session_id": "s1", "kind": "view", "item_id": "a1"},
    {"ts": "2024-02-01T10:01:00", "session_id": "s1", "user_id": 7, "kind": "purchase",
     "item_id": "a1", "quantity": 2},
    "not json",
    {"ts": "2024-02-01T10:02:00Z", "session_id": "s1", "kind": "search"},
    {"ts": "2024-02-01T10:03:00Z", "session_id": "s 2", "kind": "buy", "item_id": "a1"},
    {"ts": "2024-02-01T10:04:00Z", "session_id": "s3", "kind": "search", "query": "red mug"},
]  # fmt: skip


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_bytes(
        b"\n".join(r.encode() if isinstance(r, str) else orjson.dumps(r) for r in rows) + b"\n"
    )
    return path


def _quarantine(ds: Path) -> list[dict[str, object]]:
    return [
        orjson.loads(x)
        for f in sorted(ds.glob("quarantine/*.jsonl"))
        for x in f.read_bytes().splitlines()
    ]


def test_bad_rows_are_named_and_quarantined_the_rest_imported(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text(ITEMS_CSV)
    events = _jsonl(tmp_path / "events.jsonl", EVENTS)
    ds = tmp_path / "ds"
    out = import_all(
        [file_source(tmp_path / "items.csv", "items"), file_source(events, "events")],
        ds,
        progress=False,
    )
    assert [(o.entry.rows, o.entry.imported, o.entry.quarantined) for o in out] == [
        (6, 2, 4),
        (6, 3, 3),
    ]
    bad = {(q["where"], q["field"]) for q in _quarantine(ds)}
    assert bad == {
        ("items.csv:3", "title"),
        ("items.csv:4", "price"),
        ("items.csv:5", "(row)"),  # eight cells under a seven-column header
        ("items.csv:6", "created_at"),
        ("events.jsonl:3", "(row)"),  # not JSON
        ("events.jsonl:4", "(row)"),  # a search without a query
        ("events.jsonl:5", "session_id"),
        ("events.jsonl:5", "kind"),
    }
    items = DatasetDir(ds).table("items")
    assert items is not None and items.column("id").to_pylist() == ["a1", "a6"]
    assert items.column("attributes").to_pylist()[0] == [("colour", "red")]
    assert items.column("category").to_pylist()[0] == ["Home", "Kitchen"]
    ev = DatasetDir(ds).table("events")
    assert ev is not None
    assert ev.column("user_id").to_pylist() == [None, "7", None]  # anonymous, known, anonymous
    assert ev.column("ts").to_pylist()[1] == datetime(2024, 2, 1, 10, 1, tzinfo=UTC)


def test_a_second_import_of_the_same_file_changes_nothing(tmp_path: Path) -> None:
    events = _jsonl(tmp_path / "events.jsonl", EVENTS)
    ds = tmp_path / "ds"
    first = import_all([file_source(events, "events")], ds, progress=False)
    manifest = (ds / "manifest.json").read_bytes()
    again = import_all([file_source(events, "events")], ds, progress=False)
    assert not first[0].skipped and again[0].skipped
    assert (ds / "manifest.json").read_bytes() == manifest
    table = DatasetDir(ds).table("events")
    assert table is not None and table.num_rows == 3
    _jsonl(events, [*EVENTS, EVENTS[0]])  # the file changed: imported as a new source
    assert not import_all([file_source(events, "events")], ds, progress=False)[0].skipped


def test_parquet_rows_are_named_by_row_group_and_row(tmp_path: Path) -> None:
    rows = [
        {"ts": datetime(2024, 3, 1, 9, i), "session_id": f"s{i}", "kind": "click",
         "item_id": "a1" if i != 3 else None, "position": i}
        for i in range(5)
    ]  # fmt: skip
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    out = import_all([file_source(path, "events")], tmp_path / "ds", progress=False)
    assert (out[0].entry.imported, out[0].entry.quarantined) == (4, 1)
    (q,) = _quarantine(tmp_path / "ds")
    assert q["where"] == "events.parquet row group 1 row 1"  # the fourth row, in group two
    assert "needs 'item_id'" in str(q["error"])


def test_a_file_of_the_wrong_shape_is_refused_whole(tmp_path: Path) -> None:
    events = _jsonl(tmp_path / "events.jsonl", EVENTS)
    with pytest.raises(BadFile, match=r"items columns unknown \['item_id', 'kind'"):
        file_source(events, "items")
    (tmp_path / "e.csv").write_text("ts,kind\n2024-01-01,view\n")
    with pytest.raises(BadFile, match=r"missing \['session_id'\]"):
        file_source(tmp_path / "e.csv", "events")
    with pytest.raises(BadFile, match=r"unknown format '\.xlsx'"):
        (tmp_path / "x.xlsx").write_text("")
        file_source(tmp_path / "x.xlsx", "events")
    assert not (tmp_path / "ds").exists()


def test_the_cli_reports_each_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _jsonl(tmp_path / "events.jsonl", EVENTS)
    ds = tmp_path / "ds"
    assert main(["import", "--into", str(ds), "--events", str(events), "--quiet"]) == 0
    cap = capsys.readouterr()
    assert "3 of 6 events rows imported, 3 quarantined" in cap.err
    assert "events.jsonl:5: kind: Input should be 'view'" in cap.err
    assert orjson.loads(cap.out)["sources"][0]["imported"] == 3
    assert main(["import", "--into", str(ds), "--events", str(events), "--quiet"]) == 0
    assert "already imported" in capsys.readouterr().err
    assert main(["import", "--into", str(ds), "--items", str(events), "--quiet"]) == 2
    assert "items columns unknown" in capsys.readouterr().err
    assert main(["import", "--into", str(ds)]) == 2
    assert "nothing to import" in capsys.readouterr().err
