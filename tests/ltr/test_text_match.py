import numpy as np
import pytest

from engine.core.catalog import Catalog
from ltr.text_match import TextStats, text_match
from tests.engine.fixtures import catalog, item


def _catalog() -> Catalog:
    rows = [
        item(0, title="HP 530 Notebook PC", brand="HP"),
        item(1, title="Targus notebook bag black", brand="Targus"),
        item(2, title="Logitech wireless mouse", brand="Logitech"),
        item(3, title="HP toner cartridge", brand="HP"),
    ]
    rows[0] = rows[0].model_copy(
        update={"attributes": {"name": "530-FH", "product_type": "Notebook"}}
    )
    rows[1] = rows[1].model_copy(update={"description": "A padded bag for a 15 inch notebook"})
    return catalog(rows)


def test_the_fields_match_the_query_words_each_with_its_own_statistics() -> None:
    cat = _catalog()
    rows = np.arange(4, dtype=np.int64)
    tm = text_match(cat, TextStats.build(cat), rows, "notebook")
    # the title carries it for the notebook and the bag, not for the mouse or the toner
    assert tm.bm25[0] > 0 and tm.bm25[1] > 0 and tm.bm25[2] == tm.bm25[3] == 0
    assert tm.idf_coverage.tolist() == [1.0, 1.0, 0.0, 0.0]
    # the product type attribute and the description are fields of their own
    assert tm.attribute_bm25[0] > 0 and tm.attribute_bm25[1] == 0
    assert tm.description_bm25[1] > 0 and tm.description_bm25[0] == 0
    # where the title first names it: 3rd of 4 words, 2nd of 4; none: 1
    assert tm.first_match.tolist() == pytest.approx([2 / 4, 1 / 4, 1.0, 1.0])
    assert tm.title_length.tolist() == [4, 4, 3, 3]


def test_the_head_word_is_the_last_one_and_rare_words_weigh_more() -> None:
    cat = _catalog()
    rows = np.arange(4, dtype=np.int64)
    stats = TextStats.build(cat)
    tm = text_match(cat, stats, rows, "notebook bag")
    assert tm.head_in_title.tolist() == [0.0, 1.0, 0.0, 0.0]  # a bag, not a notebook
    # "hp" is on two items, "toner" on one: the toner's coverage of "hp toner" is whole, the
    # notebook's (hp only) below half
    tm = text_match(cat, stats, rows, "hp toner")
    assert tm.idf_coverage[3] == pytest.approx(1.0)
    assert 0 < tm.idf_coverage[0] < 0.5
    # a model number typed without its hyphen matches the joined code
    assert text_match(cat, stats, rows, "530fh").idf_coverage[0] == pytest.approx(1.0)


def test_no_query_word_gives_no_match() -> None:
    cat = _catalog()
    rows = np.arange(4, dtype=np.int64)
    tm = text_match(cat, TextStats.build(cat), rows, "?!")
    assert not tm.bm25.any() and not tm.head_in_title.any()
    assert tm.first_match.tolist() == [1.0] * 4
    assert tm.title_length.tolist() == [4, 4, 3, 3]  # the feed's case: lengths, no gather
    assert len(text_match(cat, TextStats.build(cat), rows[:0], "notebook").bm25) == 0
