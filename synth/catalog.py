"""The synthetic catalog as columns: categories, brands, sellers, prices, stock, hidden vectors.

Items are generated per *product* (a unit); about 10% of items are variants (colour/size) of a
product with siblings, sharing its leaf, brand, seller, vector and quality. Latent item vectors
follow the category tree: ``v = (c_root + e_mid + e_leaf + 0.3 b_brand + e_item) / sqrt(d)``, so
users who like a root, a mid category or a brand find it through dot products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, F64, I32
from synth.taxonomy import Taxonomy
from synth.vocab import BRAND_HEADS, BRAND_TAILS

DIM = 16
DAY = 86_400.0
NEW_ITEM_SHARE = 0.04
VARIANT_SIZES = np.array([2, 3, 4])
VARIANT_P = np.array([0.45, 0.35, 0.20])
#: availability codes, as in :class:`engine.core.contracts.Availability`
AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "discontinued")


@dataclass(frozen=True)
class Catalog:
    leaf: I32
    root: I32
    brand: I32
    seller: I32
    price: F32
    cost_price: F32
    availability: npt.NDArray[np.int8]  # index into AVAILABILITY
    created_at: F64  # whole unix seconds
    updated_at: F64
    version: I32
    variant_group: I32  # -1 when the item has no siblings
    color: I32  # index into the root's vocabulary lists
    size: I32
    material: I32
    adjective: I32
    quality: F32
    popularity: F64  # exposure prior of the logging policy (unnormalised)
    item_vec: F32  # (n, DIM)
    brand_names: tuple[str, ...]
    brand_root: I32
    seller_rating: F32  # per seller, 0-5 (restricted)
    seller_orders: npt.NDArray[np.int64]  # per seller (restricted)

    @property
    def n(self) -> int:
        return len(self.leaf)

    @property
    def in_stock(self) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = self.availability == 0
        return out

    def seller_names(self) -> list[str]:
        w = max(6, len(str(len(self.seller_rating))))
        return [f"s{i:0{w}d}" for i in range(len(self.seller_rating))]


def brand_names(rng: np.random.Generator, n: int) -> tuple[str, ...]:
    combos = [h + t for h in BRAND_HEADS for t in BRAND_TAILS]
    if n > len(combos):
        combos += [f"{c} {k}" for k in range(2, 2 + n // len(combos)) for c in combos]
    order = rng.permutation(len(combos))[:n]
    return tuple(combos[i] for i in order)


def _zipf_cdf(n: int, s: float) -> F64:
    w = 1.0 / np.arange(1, n + 1) ** s
    out: F64 = np.cumsum(w / w.sum())
    return out


def _units(rng: np.random.Generator, n_items: int) -> I32:
    """Unit (product) index of every item; groups of 2-4 consecutive items are variants."""
    p_group = 0.039
    sizes = np.where(
        rng.random(n_items) < p_group, rng.choice(VARIANT_SIZES, n_items, p=VARIANT_P), 1
    )
    n_units = int(np.searchsorted(np.cumsum(sizes), n_items)) + 1
    unit: I32 = np.repeat(np.arange(n_units, dtype=np.int32), sizes[:n_units])[:n_items]
    return unit


def leaf_centers(rng: np.random.Generator, tax: Taxonomy) -> F64:
    root_c = rng.normal(0, 1, (tax.n_roots, DIM))
    mid_c = root_c[tax.leaf_root[tax.mid_range()[0]]] + rng.normal(0, 0.7, (len(tax.mids), DIM))
    out: F64 = mid_c[tax.leaf_mid] + rng.normal(0, 0.6, (tax.n_leaves, DIM))
    return out


def make_catalog(
    rng: np.random.Generator, tax: Taxonomy, centers: F64, n_items: int, start: float, end: float
) -> Catalog:
    unit = _units(rng, n_items)
    n_units = int(unit[-1]) + 1
    n_leaves = tax.n_leaves
    leaf_w = rng.lognormal(0, 0.6, n_leaves) * np.where(tax.complement_anchor, 2.0, 1.0)
    u_leaf = rng.choice(n_leaves, n_units, p=leaf_w / leaf_w.sum()).astype(np.int32)
    if n_units >= n_leaves:  # every leaf gets at least one product
        u_leaf[:n_leaves] = rng.permutation(n_leaves)
    u_root = tax.leaf_root[u_leaf]

    nb = int(np.clip(round(n_items / 500), 8, 60))
    names = brand_names(rng, nb * tax.n_roots)
    brand_root = np.repeat(np.arange(tax.n_roots, dtype=np.int32), nb)
    rank = np.searchsorted(_zipf_cdf(nb, 1.1), rng.random(n_units) * 0.999999)
    u_brand = (u_root * nb + rank).astype(np.int32)
    brand_weight = 1.0 / (1.0 + rank) ** 1.1

    n_sellers = max(10, n_items // 250)
    seller_rank = np.searchsorted(_zipf_cdf(n_sellers, 0.9), rng.random(n_units) * 0.999999)
    seller_perm = rng.permutation(n_sellers).astype(np.int32)
    u_seller = seller_perm[seller_rank]
    rating = np.round(np.clip(rng.normal(4.3, 0.45, n_sellers), 1.0, 5.0), 1).astype(np.float32)
    orders = np.round(rng.lognormal(6.0, 1.6, n_sellers)).astype(np.int64)

    leaf_median = np.exp(rng.uniform(np.log(4.0), np.log(700.0), n_leaves))
    premium = np.exp(rng.normal(0, 0.25, len(names)))
    u_price = leaf_median[u_leaf] * premium[u_brand] * np.exp(rng.normal(0, 0.45, n_units))
    brand_q = rng.normal(0, 0.3, len(names))
    u_quality = rng.normal(0, 0.7, n_units) + brand_q[u_brand] + 0.4 * (rating[u_seller] - 4.3)

    brand_c = rng.normal(0, 1, (len(names), DIM))
    u_vec = centers[u_leaf] + 0.3 * brand_c[u_brand] + rng.normal(0, 0.6, (n_units, DIM))

    # Exactly NEW_ITEM_SHARE of products are new; the first product of each leaf stays old.
    eligible = np.arange(min(n_units, n_leaves), n_units)
    is_new = np.zeros(n_units, bool)
    is_new[
        rng.choice(eligible, min(round(NEW_ITEM_SHARE * n_units), len(eligible)), replace=False)
    ] = True
    u_created = np.where(
        is_new,
        rng.uniform(start, end - 2 * DAY, n_units),
        rng.uniform(start - 730 * DAY, start - 3600, n_units),
    )

    leaf = u_leaf[unit]
    root = tax.leaf_root[leaf]
    n_col = np.array([len(v.colors) for v in tax.vocabs])[root]
    n_size = np.array([len(v.sizes) for v in tax.vocabs])[root]
    n_mat = np.array([len(v.materials) for v in tax.vocabs])[root]
    n_adj = np.array([len(v.adjectives) for v in tax.vocabs])[root]
    u_mat = rng.random(n_units)
    u_adj = rng.random(n_units)

    sizes = np.bincount(unit, minlength=n_units)
    grouped = sizes[unit] > 1
    created = np.floor(u_created[unit] + rng.uniform(0, 3600, n_items) * grouped)
    upd_span = np.where(created < start, start - created, np.minimum(7 * DAY, end - created))
    updated = np.floor(created + rng.random(n_items) * upd_span)
    price = np.maximum(np.round(u_price[unit] * np.exp(rng.normal(0, 0.05, n_items))) - 0.01, 0.99)
    cost = np.maximum(np.round(price * rng.uniform(0.45, 0.85, n_items), 2), 0.01)
    av_u = rng.random(n_items)
    availability = np.select([av_u < 0.055, av_u < 0.06, av_u < 0.065], [1, 2, 3], 0)
    vec = (u_vec[unit] + rng.normal(0, 0.1, (n_items, DIM))) / np.sqrt(DIM)
    quality = u_quality[unit]
    popularity = np.exp(
        0.8 * quality
        + 0.5 * np.log(brand_weight[unit] * nb)
        + rng.normal(0, 0.9, n_units)[unit]
        + rng.normal(0, 0.3, n_items)
    )
    group_rank = np.cumsum(sizes > 1) - 1
    return Catalog(
        leaf=leaf.astype(np.int32),
        root=root.astype(np.int32),
        brand=u_brand[unit],
        seller=u_seller[unit],
        price=price.astype(np.float32),
        cost_price=cost.astype(np.float32),
        availability=availability.astype(np.int8),
        created_at=created,
        updated_at=updated,
        version=(1 + rng.poisson(0.8, n_items)).astype(np.int32),
        variant_group=np.where(grouped, group_rank[unit], -1).astype(np.int32),
        color=np.floor(rng.random(n_items) * n_col).astype(np.int32),
        size=np.floor(rng.random(n_items) * n_size).astype(np.int32),
        material=np.floor(u_mat[unit] * n_mat).astype(np.int32),
        adjective=np.floor(u_adj[unit] * n_adj).astype(np.int32),
        quality=quality.astype(np.float32),
        popularity=popularity,
        item_vec=vec.astype(np.float32),
        brand_names=names,
        brand_root=brand_root,
        seller_rating=rating,
        seller_orders=orders,
    )
