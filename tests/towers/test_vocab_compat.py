"""Towers ids after the vocabulary moved to :class:`engine.core.vocab.Vocab`: the same as the
retired towers-only vocabulary gave, for vocabularies built now and for token lists saved in
artifacts before the move, so trained models keep producing the same vectors."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from engine.core.catalog import Catalog
from tests.engine.fixtures import item
from tests.towers.tiny import TEXT_CACHE
from towers.artifact import current_version, load_artifact, save_artifact
from towers.catalog_features import CatalogFeaturizer, catalog_vocabularies, tower_config_for
from towers.features import ItemFeatures, category_tokens, embedding_ids
from towers.model import TowerConfig, TwoTower
from towers.text import TextEncoder


class OldVocab:
    """The retired ``towers.features.Vocab``, verbatim in behaviour: ids 1..len, 0 = unknown."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self._ids = {t: i + 1 for i, t in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            raise ValueError("vocabulary tokens must be distinct")

    @staticmethod
    def build(values: Iterable[str], min_count: int = 1) -> OldVocab:
        counts = Counter(values)
        return OldVocab([t for t, c in counts.most_common() if c >= min_count])

    @property
    def size(self) -> int:
        return len(self.tokens) + 1

    def ids(self, tokens: Iterable[str]) -> list[int]:
        return [self._ids.get(t, 0) for t in tokens]


SPECS = [  # repeats and ties, so frequency order and first-sight tie breaks both matter
    (("Home", "Kitchen"), "acme"),
    (("Home", "Lighting"), "brew"),
    (("Home", "Kitchen"), "brew"),
    (("Beauty", "Makeup", "Lips"), "zeta"),
    (("Beauty", "Makeup"), "acme"),
    (("Garden",), "acme"),
    (("Home", "Kitchen", "Pots"), "brew"),
    (("Beauty", "Makeup", "Lips"), "yonder"),
]
WIDTH = 4


def _catalog() -> Catalog:
    c = Catalog()
    c.upsert([item(i + 1, category=cat, brand=b) for i, (cat, b) in enumerate(SPECS)])
    return c


def _old_vocabularies() -> dict[str, OldVocab]:
    cats = [t for cat, _ in SPECS for t in category_tokens(cat)]
    return {"category": OldVocab.build(cats), "brand": OldVocab.build(b for _, b in SPECS)}


def _old_features(
    vocabs: dict[str, OldVocab], rows: list[tuple[tuple[str, ...], str]]
) -> ItemFeatures:
    cats = np.zeros((len(rows), WIDTH), np.int64)
    for i, (cat, _) in enumerate(rows):
        ids = vocabs["category"].ids(category_tokens(cat)[:WIDTH])
        cats[i, : len(ids)] = ids
    brand = np.asarray(vocabs["brand"].ids(b for _, b in rows), np.int64)
    return ItemFeatures.build(np.zeros((len(rows), 384), np.float32), categories=cats, brand=brand)


def test_built_vocabularies_give_the_old_ids() -> None:
    old, new = _old_vocabularies(), catalog_vocabularies(_catalog())
    for name in ("category", "brand"):
        assert new[name].names() == old[name].tokens
        probe = [*old[name].tokens, "never seen", ""]
        assert embedding_ids(new[name], probe).tolist() == old[name].ids(probe)
    cfg = tower_config_for(new, TowerConfig())
    assert (cfg.n_categories, cfg.n_brands) == (old["category"].size, old["brand"].size)


def test_saved_artifact_gives_the_old_ids_and_vectors(tmp_path: Path) -> None:
    c = _catalog()
    vocabs = catalog_vocabularies(c)
    base = TowerConfig(dim=8, hidden=32, text_proj_dim=16, field_dim=8, residual=True)
    cfg = tower_config_for(vocabs, base)
    torch.manual_seed(3)
    model = TwoTower(cfg).eval()
    version = save_artifact(
        tmp_path,
        model,
        train_config={},
        vocabularies=vocabs,
        metrics={},
        training_window={"data": "vocab compat"},
        restricted_min_support=20,
    )
    old = _old_vocabularies()
    # meta.json keeps the format artifacts saved before the move: each vocabulary's token list
    meta = json.loads((tmp_path / version / "meta.json").read_text())
    assert meta["vocabularies"] == {k: v.tokens for k, v in old.items()}

    # after loading, an item first seen after training (unknown category levels and brand)
    new_item = (("Home", "Kitchen", "Kettles"), "newco")
    c.upsert([item(100, category=new_item[0], brand=new_item[1])])
    art = load_artifact(tmp_path)
    feats = CatalogFeaturizer(art.vocabularies, cfg, TextEncoder(TEXT_CACHE), 20).features(
        c, np.arange(len(c), dtype=np.int64), with_text=False
    )
    expected = _old_features(old, [*SPECS, new_item])
    np.testing.assert_array_equal(feats.categories, expected.categories)
    np.testing.assert_array_equal(feats.brand, expected.brand)
    assert feats.categories[-1].tolist() == [1, 2, 0, 0] and feats.brand[-1] == 0

    # the vectors of the loaded model equal those of the trained one on the old rule's ids
    # (the columns no vocabulary touches are taken as computed)
    old_feats = ItemFeatures.build(
        feats.text,
        categories=expected.categories,
        brand=expected.brand,
        price_bucket=feats.price_bucket,
        seller_rating=feats.seller_rating,
        margin_level=feats.margin_level,
    )
    with torch.inference_mode():
        want = model.item_vectors(old_feats).numpy()
    got = art.item_vectors(feats)  # the exported graph: float32 rounding apart
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_token_lists_saved_before_the_move_load_to_the_same_ids(tmp_path: Path) -> None:
    """A meta.json written by the old code: its lists load to the ids the old code gave."""
    tokens = {"category": ["Home", "Home>Kitchen", "Beauty"], "brand": ["brew", "acme"]}
    torch.manual_seed(0)
    cfg = TowerConfig(dim=8, hidden=32, text_proj_dim=16, field_dim=8, n_categories=4, n_brands=3)
    version = save_artifact(
        tmp_path,
        TwoTower(cfg),
        train_config={},
        vocabularies=catalog_vocabularies(_catalog()),
        metrics={},
        training_window={"data": "old"},
        restricted_min_support=20,
    )
    path = tmp_path / version / "meta.json"
    meta = json.loads(path.read_text())
    meta["vocabularies"] = tokens  # as the old save_artifact wrote them
    path.write_text(json.dumps(meta))
    assert current_version(tmp_path) == version
    art = load_artifact(tmp_path)
    for name, toks in tokens.items():
        probe = ["acme", "Beauty", "Home", "brew", "Home>Kitchen", "zzz"]
        assert embedding_ids(art.vocabularies[name], probe).tolist() == OldVocab(toks).ids(probe)
        assert art.vocabularies[name].frozen
