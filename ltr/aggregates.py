"""The only code that reads restricted fields: declared aggregations, one column per item row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.arrays import F32
from engine.core.catalog import Catalog


@dataclass(frozen=True, slots=True)
class ItemAggregates:
    seller_rating_bucket: F32  # NaN where the seller has fewer than min_support orders
    category_margin_level: F32  # 0,1,2 tercile; NaN where the category has < min_support items
    price_percentile_in_category: F32

    def padded(self, n: int) -> ItemAggregates:
        """Grown to ``n`` rows, the new ones missing (NaN) until the next build."""

        def pad(a: F32) -> F32:
            return np.concatenate([a, np.full(n - len(a), np.nan, np.float32)])

        return ItemAggregates(
            pad(self.seller_rating_bucket),
            pad(self.category_margin_level),
            pad(self.price_percentile_in_category),
        )

    @staticmethod
    def build(catalog: Catalog, min_support: int) -> ItemAggregates:
        # Rows up to ``n``, each column cut there: a background rebuild reads the catalog
        # while requests' writes append rows (every column is grown before ``len`` counts a
        # row), and dictionaries are copied before they are read.
        n = len(catalog)
        seller = catalog.seller.values[:n]
        led = catalog.restricted
        orders, ratings = led.seller_orders.copy(), led.seller_rating.copy()
        # every seller and category of the first n rows was added before those rows counted
        rating = np.full(len(catalog.sellers), np.nan, np.float32)
        for s, r in ratings.items():
            if orders.get(s, 0) >= min_support:
                rating[s] = np.round(r * 2) / 2
        bucket = rating[seller] if n else np.zeros(0, np.float32)

        cat = catalog.category.values[:n]
        n_cat = max(len(catalog.categories), 1)
        price = catalog.price.values[:n].astype(np.float64)
        cost = led.cost_price.values[:n].astype(np.float64)
        ok = ~np.isnan(cost) & ~catalog.deleted.values[:n]
        margin = np.where(ok, (price - np.nan_to_num(cost)) / np.maximum(price, 1e-9), 0.0)
        cnt = np.bincount(cat[ok], minlength=n_cat)
        mean = np.bincount(cat[ok], weights=margin[ok], minlength=n_cat) / np.maximum(cnt, 1)
        supported = cnt >= min_support
        level = np.full(n_cat, np.nan, np.float32)
        if supported.any():
            cuts = np.quantile(mean[supported], [1 / 3, 2 / 3])
            level[supported] = np.searchsorted(cuts, mean[supported]).astype(np.float32)
        margin_level = level[cat] if n else np.zeros(0, np.float32)

        pct = np.zeros(n, np.float32)
        if n:
            order = np.lexsort((price, cat))
            sorted_cat = cat[order]
            starts = np.searchsorted(sorted_cat, sorted_cat, side="left")
            ends = np.searchsorted(sorted_cat, sorted_cat, side="right")
            rank = np.arange(n) - starts
            pct[order] = (rank / np.maximum(ends - starts - 1, 1)).astype(np.float32)
        return ItemAggregates(bucket.astype(np.float32), margin_level.astype(np.float32), pct)
