"""Candidate filters. Each returns which candidates stay and why the others went."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.core.arrays import Bool
from engine.core.catalog import Catalog
from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import FilterResult


def _matches_prefix(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


class RequestFilter:
    """The request's own filters (category prefix, brand, price range), for every source."""

    name = "request_filters"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult:
        f, c, rows = ctx.filters, self.catalog, pool.rows
        kept: Bool = np.ones(len(rows), np.bool_)
        if f.categories is not None:
            kept &= np.isin(
                c.category.values[rows], self._categories(f.categories, len(c.categories))
            )
        if f.brands is not None:
            ids = [c.brands.get(b) for b in f.brands]
            kept &= np.isin(c.brand.values[rows], [i for i in ids if i >= 0])
        if f.price_min is not None:
            kept &= c.price.values[rows] >= f.price_min
        if f.price_max is not None:
            kept &= c.price.values[rows] <= f.price_max
        if f.exclude_ids:
            kept &= ~np.isin(rows, c.rows(f.exclude_ids))
        return FilterResult(kept, "does not match the request filters")

    def _categories(self, prefixes: tuple[str, ...], n_categories: int) -> list[int]:
        return _category_ids(self.catalog, prefixes, n_categories)


@lru_cache(maxsize=4096)
def _category_ids_cached(names: tuple[str, ...], prefixes: tuple[str, ...]) -> list[int]:
    return [i for i, name in enumerate(names) if _matches_prefix(name, prefixes)]


def _category_ids(catalog: Catalog, prefixes: tuple[str, ...], n: int) -> list[int]:
    return _category_ids_cached(tuple(catalog.categories.names()), prefixes)


class OutOfStockFilter:
    name = "out_of_stock"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult:
        if ctx.filters.in_stock is False or ctx.filters.in_stock is None:
            return FilterResult(np.ones(len(pool), np.bool_), "out of stock")
        return FilterResult(self.catalog.in_stock.values[pool.rows].copy(), "out of stock")


class DeletedFilter:
    name = "deleted"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult:
        return FilterResult(~self.catalog.deleted.values[pool.rows], "deleted from the catalog")


class AlreadyPurchasedFilter:
    """The feed does not show what the user or session already bought."""

    name = "already_purchased"

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult:
        if ctx.surface != Surface.feed:
            return FilterResult(np.ones(len(pool), np.bool_), "already purchased")
        bought = np.union1d(ctx.user_history.purchased(), ctx.session.purchased())
        return FilterResult(~np.isin(pool.rows, bought), "already purchased")


class NotYetAvailableFilter:
    """Items whose ``created_at`` lies after the request time are not shown yet."""

    name = "not_yet_available"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def apply(self, ctx: RequestContext, pool: CandidatePool) -> FilterResult:
        return FilterResult(
            self.catalog.created_at.values[pool.rows] <= ctx.now, "created after the request time"
        )
