import numpy as np
import pytest

from ltr.query_intent import QueryIntent
from tests.engine.fixtures import catalog, item

SHOES, SOCKS, VASES = ("Sport", "Shoes"), ("Sport", "Socks"), ("Home", "Vases")


def _catalog():
    shoes = [item(i, title="Red running shoe", brand="fleet", category=SHOES) for i in range(8)]
    socks = [item(i, title="Red wool socks", brand="fleet", category=SOCKS) for i in range(8, 16)]
    return catalog(
        [*shoes, *socks, item(16, title="Red ceramic vase", brand="casa", category=VASES)]
    )


def _leaf(cat, path: tuple[str, ...]) -> int:
    return cat.categories.get("/".join(path))


def test_every_word_must_fit_and_unknown_words_add_nothing() -> None:
    cat = _catalog()
    qi = QueryIntent.build(cat)
    it = qi.of("zorblat shoe")  # an unknown word adds nothing
    assert it is not None and it.leaf[_leaf(cat, SHOES)] > 0.9
    assert it.leaf.sum() == pytest.approx(1.0) and it.root.sum() == pytest.approx(1.0)
    assert it.root[cat.roots.get("Sport")] > 0.9
    # "red" is on every leaf, "socks" on one: the socks
    it = qi.of("red socks")
    assert it is not None and it.leaf[_leaf(cat, SOCKS)] > 0.9
    # "fleet" alone: shoes or socks, not the vase
    it = qi.of("fleet")
    assert it is not None
    shoes, socks, vases = (it.leaf[_leaf(cat, c)] for c in (SHOES, SOCKS, VASES))
    assert shoes == pytest.approx(socks) and shoes > 10 * vases
    assert qi.of("zorblat") is None and qi.of("") is None


def test_shares_per_candidate_and_deleted_items_do_not_count() -> None:
    cat = _catalog()
    rows = np.array([0, 8, 16])
    cats = cat.category.values[rows].astype(np.int64)
    roots = cat.root_category.values[rows].astype(np.int64)
    leaf, root = QueryIntent.build(cat).shares("vase", cats, roots)
    assert leaf.argmax() == root.argmax() == 2 and leaf[2] > 0.5
    cat.delete("i16", 2)
    leaf, root = QueryIntent.build(cat).shares("vase", cats, roots)
    assert np.isnan(leaf).all() and np.isnan(root).all()  # no live item has the word


def test_items_added_after_the_build_count_at_once() -> None:
    cat = _catalog()
    qi = QueryIntent.build(cat)
    assert qi.of("quokka") is None
    cat.upsert([item(17, title="Quokka zither", category=("Music", "Zithers"))])
    it = qi.of("quokka zither")  # the same table: the new row is read live
    zithers = _leaf(cat, ("Music", "Zithers"))
    assert it is not None and it.leaf.argmax() == zithers and it.leaf[zithers] > 0.7
    assert it.root.argmax() == cat.roots.get("Music")
    it = qi.of("red shoe")  # the old words still point where they did
    assert it is not None and it.leaf[_leaf(cat, SHOES)] > 0.9
