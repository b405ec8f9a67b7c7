from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.towers.conftest import random_features
from towers.item_tower import ItemTower
from towers.text import TEXT_DIM


def _tower(dim: int = 64, hash_buckets: int = 0, **kwargs: float) -> ItemTower:
    torch.manual_seed(0)
    return ItemTower(
        text_dim=TEXT_DIM,
        n_categories=7,
        n_brands=5,
        n_price_buckets=10,
        n_seller_ratings=11,
        n_margin_levels=3,
        dim=dim,
        hash_buckets=hash_buckets,
        **kwargs,
    )


@pytest.mark.parametrize(("dim", "hash_buckets"), [(64, 0), (16, 32)])
def test_shapes_and_unit_norm(dim: int, hash_buckets: int) -> None:
    tower = _tower(dim, hash_buckets).eval()
    with torch.no_grad():
        v = tower.encode(random_features(9))
    assert v.shape == (9, dim)
    assert torch.allclose(v.norm(dim=1), torch.ones(9), atol=1e-5)


def test_a_new_item_with_unknown_fields_gets_a_vector() -> None:
    f = random_features(3)
    unknown = type(f).build(f.text)  # every categorical column 0 = unknown
    with torch.no_grad():
        v = _tower().eval().encode(unknown)
    assert torch.isfinite(v).all()
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)


def test_padding_categories_do_not_count() -> None:
    f = random_features(1)
    one = type(f).build(f.text, categories=np.array([[3, 0, 0]]))
    two = type(f).build(f.text, categories=np.array([[3]]))
    tower = _tower().eval()
    with torch.no_grad():
        assert torch.allclose(tower.encode(one), tower.encode(two))


def test_hashed_ids_are_off_by_default() -> None:
    assert _tower().item_hash is None
    assert _tower(hash_buckets=8).item_hash is not None


def test_text_dropout_trains_rows_without_their_text() -> None:
    """In training, each row sees its text with probability 1 - text_dropout, otherwise the
    zero text a provisional vector is computed from; serving never drops it."""
    tower = _tower(dropout=0.0, text_dropout=0.5)
    f = random_features(400)
    blank = type(f).build(
        np.zeros_like(f.text),
        categories=f.categories,
        brand=f.brand,
        price_bucket=f.price_bucket,
        seller_rating=f.seller_rating,
        margin_level=f.margin_level,
    )
    with torch.no_grad():
        full = tower.eval().encode(f)
        provisional = tower.encode(blank)
        assert torch.equal(tower.encode(f), full)  # eval: deterministic, text always used
        trained = tower.train().encode(f)
    as_full = torch.isclose(trained, full, atol=1e-6).all(dim=1)
    as_blank = torch.isclose(trained, provisional, atol=1e-6).all(dim=1)
    assert bool((as_full ^ as_blank).all())  # every row is exactly one of the two
    assert 120 < int(as_blank.sum()) < 280  # about half dropped
