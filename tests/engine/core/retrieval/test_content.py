"""Content similarity on a hand-made catalog: look-alikes by title and attributes, never the
item itself, exact pair cosines, and the table read back as written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.catalog import Catalog
from engine.core.retrieval.content import ContentParams, ContentSimilarity
from tests.engine.fixtures import catalog, item


def _catalog() -> Catalog:
    items = [
        item(0, title="red running shoe"),
        item(1, title="blue running shoe"),
        item(2, title="ceramic vase"),
        item(3, title="glass bowl"),
    ]
    # 2 and 3 share both attribute ids; 0 shares one with 1 and one with 2 and 3
    attrs = {0: "7 5", 1: "7", 2: "5 6", 3: "5 6"}
    for i, value in attrs.items():
        items[i] = items[i].model_copy(update={"attributes": {"attribute_ids": value}})
    return catalog(items)


def _table(cat: Catalog, **kw: float) -> ContentSimilarity:
    return ContentSimilarity.build(cat.tokens, cat.attributes, len(cat), ContentParams(**kw))  # type: ignore[arg-type]


def test_neighbours_come_by_title_and_by_attributes_never_the_item_itself() -> None:
    table = _table(_catalog())
    rows, scores = table.neighbors([0], [1.0], 10)
    assert rows[0] == 1  # the other running shoe
    assert 0 not in rows.tolist()
    assert np.all(np.diff(scores) <= 0)
    rows, _ = table.neighbors([3], [1.0], 10)
    assert rows[0] == 2  # no title word in common, the same attributes
    rows, _ = table.neighbors([0, 3], [1.0, 1.0], 10, exclude=[2])
    assert 2 not in rows.tolist()


def test_pair_cosines_are_exact_and_zero_for_unknown_items() -> None:
    table = _table(_catalog())
    cols = np.array([0, 1, 2, 3, 99], np.int64)
    title = table.title_scores(0, cols)
    assert abs(title[0] - 1.0) < 1e-5
    assert title[1] > title[2] > 0 and title[4] == 0  # only the brand shared with the vase
    attr = table.attribute_scores(3, cols)
    assert abs(attr[2] - 1.0) < 1e-5 and attr[1] == 0 and attr[4] == 0
    assert abs(attr[0] - 0.5) < 1e-5  # one of two ids shared
    assert table.title_scores(99, cols).tolist() == [0.0] * 5
    profile = table.against_recent(cols[:0], np.array([2, 3]), cols).attribute_profile
    assert abs(profile[2] - 1.0) < 1e-5 and profile[1] == 0


def test_the_cosines_against_the_recent_items_equal_the_pairwise_ones() -> None:
    table = _table(_catalog())
    cols = np.array([3, 0, 1, 2, 99, 1], np.int64)
    recent = np.array([1, 99, 3], np.int64)
    got = table.against_recent(recent, np.array([2, 3, 0, 99]), cols)
    for k, row in enumerate(recent):  # read in one pass, bit for bit the pairwise values
        np.testing.assert_array_equal(got.titles[k], table.title_scores(int(row), cols))
    np.testing.assert_array_equal(got.attribute_last, table.attribute_scores(1, cols))
    context = np.array([2, 3, 0])  # 99 is unknown to the table: left out of the mean
    mean = np.mean([table.attribute_scores(int(r), cols) for r in context], axis=0)
    np.testing.assert_allclose(got.attribute_profile, mean, rtol=1e-6)
    assert got.titles.shape == (3, 6) and (got.titles[0] > 0).any() and (mean > 0).any()
    assert abs(mean[0] - (1.0 + 1.0 + 0.5) / 3) < 1e-5  # item 3 against 2, 3 and 0
    nothing = table.against_recent(recent[:0], recent[:0], cols)
    assert nothing.titles.shape == (0, 6)
    assert not nothing.attribute_last.any() and not nothing.attribute_profile.any()


def test_title_weight_and_top_n_shape_the_table() -> None:
    cat = _catalog()
    only_attrs = _table(cat, title_weight=0.0)
    rows, _ = only_attrs.neighbors([1], [1.0], 10)
    assert rows.tolist() == [0]  # no title counted: only 0 shares an attribute with 1
    assert _table(cat, top_n=1).neighbours.getnnz(axis=1).max() == 1


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    table = _table(_catalog())
    table.save(tmp_path / "content.npz")
    back = ContentSimilarity.load(tmp_path / "content.npz")
    assert back.n_items == table.n_items
    for name in ("titles", "attributes", "neighbours"):
        assert (getattr(back, name) != getattr(table, name)).nnz == 0


def test_the_pruned_build_scores_pairs_sharing_a_rare_id_as_the_exact_one() -> None:
    cat = _catalog()
    exact = _table(cat)
    # every id is rare enough: the same pairs and scores as comparing every pair
    pruned = _table(cat, exact_max_items=0, max_df=100, block_rows=3)
    np.testing.assert_allclose(pruned.neighbours.toarray(), exact.neighbours.toarray(), atol=1e-6)
    # ids on more than 2 items propose no pair: the brand token every item has, attribute 5
    # (3 items); 0 and 1 still meet by "running shoe", 2 and 3 by attribute 6, but 0 and 2,
    # who share only the brand and attribute 5, are no longer neighbours; scores never
    # exceed the exact ones
    narrow = _table(cat, exact_max_items=0, max_df=2)
    dense = narrow.neighbours.toarray()
    assert dense[0, 1] > 0 and dense[2, 3] > 0 and dense[3, 2] > 0
    assert dense[0, 2] == 0 < exact.neighbours.toarray()[0, 2]
    assert np.all(dense <= exact.neighbours.toarray() + 1e-6)
    assert np.all(np.diag(dense) == 0)  # never the item itself
    # the exact pair cosines and similarities stay readable from the pruned table
    cols = np.arange(4, dtype=np.int64)
    np.testing.assert_allclose(narrow.title_scores(0, cols), exact.title_scores(0, cols))
    np.testing.assert_allclose(
        narrow.pair_scores(0, cols)[1:], exact.neighbours.toarray()[0, 1:], atol=1e-6
    )
