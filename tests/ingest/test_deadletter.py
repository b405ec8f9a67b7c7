from pathlib import Path

from ingest.deadletter import DeadLetters, log_source


def test_a_log_record_is_dead_lettered_once_by_the_processes_sharing_the_log(
    tmp_path: Path,
) -> None:
    first, second = DeadLetters(tmp_path), DeadLetters(tmp_path)  # two server processes
    bad = {"op": "upsert", "item": {"id": "x", "price": -1}}
    first.add(log_source(7), "price below 0", bad)
    second.add_many([(log_source(7), "price below 0", bad), (log_source(8), "no id", {"op": "?"})])
    letters = DeadLetters(tmp_path).read()
    assert [x["source"] for x in letters] == [log_source(7), log_source(8)]
    # a log started afresh holds another record at the offset: that one is a letter of its own
    afresh = {"op": "upsert", "item": {"id": "y"}}
    second.add(log_source(7), "no title", afresh)
    # letters from files are never merged: the same line may fail twice in two imports
    first.add("items.jsonl:3", "bad json", "{")
    first.add("items.jsonl:3", "bad json", "{")
    sources = [x["source"] for x in DeadLetters(tmp_path).read()]
    assert sources == [
        log_source(7),
        log_source(8),
        log_source(7),
        "items.jsonl:3",
        "items.jsonl:3",
    ]
    dead = DeadLetters(tmp_path).from_log()
    assert dead.reason(7, afresh) == "no title" and dead.reason(8, {"op": "?"}) == "no id"
