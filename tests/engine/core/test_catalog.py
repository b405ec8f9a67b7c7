from pathlib import Path

import numpy as np
import pytest

from engine.core.catalog import Catalog, load_jsonl
from engine.core.contracts import Item
from engine.core.text import attribute_ids
from tests.engine.fixtures import catalog, item


def test_upsert_is_version_ordered() -> None:
    c = catalog([item(1, title="old", version=2)])
    res = c.upsert([item(1, title="older", version=1), item(1, title="same", version=2)])
    assert res.applied == [] and res.stale == ["i1", "i1"]
    assert c.titles[0] == "old"
    res = c.upsert([item(1, title="new", version=3)])
    assert res.applied == [0] and c.titles[0] == "new" and c.version.values[0] == 3


def test_delete_respects_versions_and_rows_skip_deleted() -> None:
    c = catalog([item(1, version=5), item(2)])
    assert c.delete("i1", 4) is False
    assert c.delete("i1", 5) is True
    assert c.rows(["i1", "i2", "zzz"]).tolist() == [1]
    assert c.upsert([item(1, version=5)]).stale == ["i1"]
    assert c.upsert([item(1, version=6)]).applied == [0]
    assert c.rows(["i1"]).tolist() == [0]


def test_restricted_fields_go_to_the_ledger_only() -> None:
    c = catalog([item(1, seller="s9", seller_rating=4.4, seller_order_count=50, cost_price=3.0)])
    seller = int(c.seller.values[0])
    assert c.restricted.seller_rating[seller] == 4.4
    assert c.restricted.seller_orders[seller] == 50
    assert c.restricted.cost_price.values[0] == 3.0
    doc = c.index_doc(0)
    assert "4.4" not in doc.text and doc.seller_id == "s9"


def test_load_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    good = item(1).model_dump_json()
    bad = item(2).model_dump_json().replace('"price":10.0', '"price":-3')
    p = tmp_path / "items.jsonl"
    p.write_text(f"{good}\n{good}\n{bad}\n")
    with pytest.raises(ValueError, match=r"items.jsonl:3: invalid item.*price"):
        load_jsonl(Catalog(), p, chunk=2)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_jsonl(Catalog(), tmp_path / "missing.jsonl")


def test_load_jsonl_loads_everything(tmp_path: Path) -> None:
    p = tmp_path / "items.jsonl"
    p.write_text("".join(item(i).model_dump_json() + "\n" for i in range(7)))
    c = Catalog()
    assert load_jsonl(c, p, chunk=3) == 7
    assert len(c) == 7 and np.all(c.in_stock.values)


def test_attributes_are_kept_per_row_and_restored_with_it() -> None:
    c = catalog([item(1).model_copy(update={"attributes": {"attribute_ids": "5 6"}})])
    before = c.row_state(0)
    assert c.attributes[0].tolist() == attribute_ids({"attribute_ids": "5 6"}).tolist()
    c.upsert([item(1, version=2)])  # a new version without attributes
    assert len(c.attributes[0]) == 0
    c.restore(before)
    assert len(c.attributes[0]) == 2


def test_a_new_row_is_counted_only_once_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread reading ``len(catalog)`` rows finds them written; a row whose write failed is
    not counted, and the next one lines up with its id."""
    c = catalog([item(0)])
    seen: list[int] = []
    write = c._write

    def failing(row: int, it: Item) -> None:
        seen.append(len(c))  # what a reader would count while the row is written
        if it.id == "i1":
            raise ValueError("cannot write i1")
        write(row, it)

    monkeypatch.setattr(c, "_write", failing)
    with pytest.raises(ValueError, match="i1"):
        c.upsert([item(1)])
    assert len(c) == 1 and "i1" not in c.row_of and len(c.titles) == 1
    c.upsert([item(2)])
    assert seen == [1, 1] and len(c) == 2
    assert c.titles[c.row_of["i2"]] == "item number 2" and c.ids[1] == "i2"
