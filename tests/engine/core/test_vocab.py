from __future__ import annotations

import pytest

from engine.core.vocab import Vocab


def test_growable_ids_in_order_of_addition() -> None:
    v = Vocab(["b", "a", "b"])
    assert v.names() == ["b", "a"] and len(v) == 2 and not v.frozen
    assert v.add("c") == 2 and v.add("a") == 1
    assert v.encode(["a", "d"]).tolist() == [1, 3]  # encode adds "d"
    assert v.get("zzz") == -1 and "zzz" not in v and "d" in v
    assert v.name(3) == "d"


def test_lookup_never_adds() -> None:
    v = Vocab(["x", "y"])
    ids = v.lookup(["y", "q", "x"])
    assert ids.dtype.name == "int64" and ids.tolist() == [1, -1, 0]
    assert v.lookup([]).tolist() == []
    assert len(v) == 2 and "q" not in v


def test_from_counts_orders_by_frequency_then_first_sight() -> None:
    v = Vocab.from_counts(["b", "a", "b", "c", "c", "c", "d", "a"])
    assert v.names() == ["c", "b", "a", "d"]
    assert Vocab.from_counts(["b", "a", "b", "c", "c", "c"], min_count=2).names() == ["c", "b"]
    assert Vocab.from_counts([]).names() == []


def test_frozen_vocabularies_refuse_new_names() -> None:
    for v in (Vocab.from_counts(["a", "b"]), Vocab.restore(["a", "b"]), Vocab(["a"], frozen=True)):
        assert v.frozen
        assert v.add("a") == 0  # a known name is fine
        with pytest.raises(ValueError, match="frozen"):
            v.add("new")
        with pytest.raises(ValueError, match="frozen"):
            v.encode(["a", "new"])
        assert "new" not in v


def test_restore_round_trips_names_and_rejects_repeats() -> None:
    v = Vocab.from_counts(["p", "q", "q", "r"])
    w = Vocab.restore(v.names())
    assert w.names() == v.names() and [w.get(n) for n in v.names()] == [0, 1, 2]
    with pytest.raises(ValueError, match="distinct"):
        Vocab.restore(["a", "b", "a"])  # would shift every later id


def test_an_instance_without_the_frozen_attribute_reads_growable() -> None:
    v = Vocab(["a"])
    del v.__dict__["_frozen"]  # e.g. state saved before the attribute existed
    assert not v.frozen and v.add("b") == 1
