"""Item-tower inputs of marketplace catalog rows: the one path used by training, index builds
and ingest, so a vector computed at ingest equals the one a rebuild would compute.

Inputs per row: the MiniLM embedding of title + description, every level of the category path,
the brand, and the declared aggregates (price percentile bucket in the category, seller rating
bucket, category margin tercile; see :mod:`ltr.aggregates`). The item id enters only as an
optional hashed embedding. Vocabularies are frozen with the artifact: a brand or category first
seen after training maps to "unknown" (0) and the item still gets a vector from its text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.core.arrays import I64
from engine.core.catalog import Catalog
from engine.core.vocab import Vocab
from ltr.aggregates import ItemAggregates
from towers.config import TowerConfig
from towers.features import (
    ItemFeatures,
    aggregate_columns,
    category_tokens,
    embedding_ids,
    embedding_rows,
    hash_ids,
)
from towers.text import TextEncoder, item_text

CATEGORY_WIDTH = 4  # levels kept of a category path


def catalog_vocabularies(catalog: Catalog) -> dict[str, Vocab]:
    """Category-prefix and brand vocabularies of the live catalog rows, most frequent first;
    frozen, as they are saved with the artifact."""
    live = np.flatnonzero(~catalog.deleted.values[: len(catalog)])
    cats: list[str] = []
    for r in live.tolist():
        cats.extend(category_tokens(catalog.category_name(r).split("/")))
    brands = (catalog.brands.name(int(catalog.brand.values[r])) for r in live.tolist())
    return {
        "category": Vocab.from_counts(cats),
        "brand": Vocab.from_counts(b for b in brands if b),
    }


def tower_config_for(vocabularies: dict[str, Vocab], base: TowerConfig) -> TowerConfig:
    return base.model_copy(
        update={
            "n_categories": embedding_rows(vocabularies["category"]),
            "n_brands": embedding_rows(vocabularies["brand"]),
        }
    )


class CatalogFeaturizer:
    """``features(catalog, rows) -> ItemFeatures`` with frozen vocabularies."""

    def __init__(
        self,
        vocabularies: dict[str, Vocab],
        cfg: TowerConfig,
        encoder: TextEncoder,
        min_support: int,
    ) -> None:
        self.category = vocabularies["category"]
        self.brand = vocabularies["brand"]
        self.cfg = cfg
        self.encoder = encoder
        self.min_support = min_support

    def texts(self, catalog: Catalog, rows: Sequence[int]) -> list[str]:
        return [item_text(catalog.titles[r], catalog.descriptions[r]) for r in rows]

    def features(
        self,
        catalog: Catalog,
        rows: I64,
        aggregates: ItemAggregates | None = None,
        *,
        with_text: bool = True,
    ) -> ItemFeatures:
        """Features of ``rows``; ``aggregates`` (of the whole catalog) is built when not given.
        ``with_text=False`` leaves the text embedding zero (no text-model pass): the inputs of
        a provisional vector (see :mod:`towers.item_tower`)."""
        rs = [int(r) for r in rows]
        text = (
            self.encoder.encode(self.texts(catalog, rs))
            if with_text
            else np.zeros((len(rs), self.encoder.dim), np.float32)
        )
        cats = np.zeros((len(rs), CATEGORY_WIDTH), np.int64)
        for i, r in enumerate(rs):
            toks = category_tokens(catalog.category_name(r).split("/"))[:CATEGORY_WIDTH]
            cats[i, : len(toks)] = embedding_ids(self.category, toks)
        brand = embedding_ids(
            self.brand, (catalog.brands.name(int(catalog.brand.values[r])) for r in rs)
        )
        aggs = aggregates or ItemAggregates.build(catalog, self.min_support)
        if len(aggs.price_percentile_in_category) < len(catalog):
            aggs = aggs.padded(len(catalog))
        price, rating, margin = aggregate_columns(aggs, self.cfg.n_price_buckets)
        idx = np.asarray(rs, np.int64)
        hashed = (
            hash_ids([catalog.ids[r] for r in rs], self.cfg.hash_buckets)
            if self.cfg.hash_buckets
            else None
        )
        return ItemFeatures.build(
            text,
            categories=cats,
            brand=brand,
            price_bucket=price[idx],
            seller_rating=rating[idx],
            margin_level=margin[idx],
            item_hash=hashed,
        )
