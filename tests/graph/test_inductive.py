import numpy as np
import pytest

from graph.inductive import ContentMap, FeatureSpace, content_features
from tests.engine.fixtures import catalog, item
from tests.engine.world import CASES, DECOR, ITEMS, PHONES


def _targets(c) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A graph space where phones sit at +x, cases at +y, vases at -x."""
    out = np.zeros((len(c), 2), np.float32)
    for group, v in ((PHONES, (1, 0)), (CASES, (0, 1)), (DECOR, (-1, 0))):
        for it in group:
            out[c.row_of[it.id]] = v
    return out


def test_features_are_one_row_per_item_with_category_brand_tokens_price() -> None:
    c = catalog(ITEMS)
    space = FeatureSpace(len(c.categories), len(c.roots))
    x = content_features(c, np.arange(len(c), dtype=np.int64), space)
    assert x.shape == (len(c), space.dim)
    nnz = np.diff(x.indptr)
    assert (nnz >= 5).all()  # leaf, root, brand, some tokens, price, bias
    assert np.allclose(x[:, -1].toarray(), 1.0)


def test_a_held_out_item_lands_near_its_kind() -> None:
    c = catalog(
        [
            *ITEMS,
            item(
                300,
                title="Protective phone case graphite",
                category=("Electronics", "Phones", "Cases"),
                brand="shield",
            ),
        ]
    )
    y = _targets(c)
    new = c.row_of["i300"]
    fit = np.array([r for r in range(len(c)) if r != new], np.int64)
    cm = ContentMap.fit(c, fit, y[fit], l2=0.1)
    got = cm.predict(c, np.array([new], np.int64))[0]
    assert got[1] > 0.6 and abs(got[0]) < 0.3


def test_save_and_load_give_the_same_map(tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = catalog(ITEMS)
    rows = np.arange(len(c), dtype=np.int64)
    cm = ContentMap.fit(c, rows, _targets(c))
    cm.save(tmp_path / "m.npz")
    back = ContentMap.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.predict(c, rows), cm.predict(c, rows))
    with pytest.raises(ValueError, match="feature space"):
        ContentMap(FeatureSpace(1, 1), np.zeros((3, 2), np.float32))
