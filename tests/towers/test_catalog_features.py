from __future__ import annotations

import numpy as np

from engine.core.catalog import Catalog
from tests.engine.fixtures import item
from tests.towers.tiny import TEXT_CACHE
from towers.catalog_features import CatalogFeaturizer, catalog_vocabularies, tower_config_for
from towers.features import embedding_ids
from towers.model import TowerConfig
from towers.text import TextEncoder, item_text


def _catalog() -> Catalog:
    c = Catalog()
    c.upsert(
        [
            item(1, title="Steel kettle", category=("Home", "Kitchen"), brand="acme"),
            item(2, title="Glass teapot", category=("Home", "Kitchen"), brand="brew"),
            item(3, title="Desk lamp", category=("Home", "Lighting"), brand="acme"),
        ]
    )
    return c


def test_vocabularies_hold_every_category_level_and_brand() -> None:
    v = catalog_vocabularies(_catalog())
    assert set(v["category"].names()) == {"Home", "Home>Kitchen", "Home>Lighting"}
    assert set(v["brand"].names()) == {"acme", "brew"}
    assert v["category"].frozen and v["brand"].frozen  # saved with the artifact
    cfg = tower_config_for(v, TowerConfig())
    assert cfg.n_categories == 4 and cfg.n_brands == 3


def test_features_of_rows_and_of_a_brand_never_seen() -> None:
    c = _catalog()
    vocabs = catalog_vocabularies(c)
    cfg = tower_config_for(vocabs, TowerConfig())
    f = CatalogFeaturizer(vocabs, cfg, TextEncoder(TEXT_CACHE), min_support=20)
    c.upsert([item(4, title="Floor lamp", category=("Garden", "Lights"), brand="newco")])
    got = f.features(c, np.arange(4))
    assert got.text.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(got.text, axis=1), 1.0, atol=1e-5)
    expected = TextEncoder(TEXT_CACHE).encode([item_text(c.titles[0], c.descriptions[0])])
    np.testing.assert_allclose(got.text[0], expected[0], atol=1e-6)
    home = embedding_ids(vocabs["category"], ["Home", "Home>Kitchen"]).tolist()
    assert got.categories[0].tolist() == [*home, 0, 0]
    assert got.categories[3].tolist() == [0, 0, 0, 0]  # unseen path: unknown, not an error
    assert got.brand.tolist() == [
        *embedding_ids(vocabs["brand"], ["acme", "brew", "acme"]).tolist(),
        0,
    ]
    # restricted fields below min support reach the tower as "unknown" (compliance)
    assert got.seller_rating.tolist() == [0, 0, 0, 0]
    assert not got.item_hash.any()  # hashed ids are off unless configured
