from pathlib import Path

from ingest.deadletter import DeadLetters
from ingest.files import FileCursor, changes


def test_lines_become_changes_or_reasons(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": "a", "version": 1}\n\n{"op": "delete", "id": "b", "version": 4}\n{oops\n[1]\n'
    )
    got = list(changes(src))
    assert got[0] == (1, {"op": "upsert", "item": {"id": "a", "version": 1}}, "")
    assert got[1] == (3, {"op": "delete", "id": "b", "version": 4}, "")
    assert got[2][0] == 4 and got[2][1] == {"raw": "{oops\n"} and "not JSON" in got[2][2]
    assert got[3][0] == 5 and "JSON object" in got[3][2]
    assert [n for n, _, _ in changes(src, skip=3)] == [4, 5]


def test_cursor_and_dead_letters_persist(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    cursor = FileCursor(tmp_path / "ingest", src)
    assert cursor.get() == 0
    cursor.set(42)
    assert FileCursor(tmp_path / "ingest", src).get() == 42
    assert FileCursor(tmp_path / "ingest", tmp_path / "other.jsonl").get() == 0
    dead = DeadLetters(tmp_path / "ingest")
    dead.add("in.jsonl:4", "not JSON", {"raw": "{oops"})
    letters = DeadLetters(tmp_path / "ingest").read()
    assert letters[0]["source"] == "in.jsonl:4" and letters[0]["record"] == {"raw": "{oops"}
