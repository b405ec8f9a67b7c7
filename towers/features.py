"""Item-side inputs of the towers, as columns, and the embedding ids of vocabulary tokens.

Every categorical column reserves id 0 for "unknown / missing / padding", so an item with an
unseen brand or category, or with a restricted aggregate below its minimum support, still gets
a vector (the learned "unknown" embedding) instead of an error. String columns (categories,
brands) go through :class:`engine.core.vocab.Vocab`, the one token -> index mapping;
:func:`embedding_ids` shifts its indices by :data:`EMBEDDING_OFFSET` to make room for row 0.

Restricted seller and pricing fields reach the item tower only through the declared
aggregations of :mod:`ltr.compliance`, computed by :class:`ltr.aggregates.ItemAggregates`;
:data:`FIELD_USES` declares each input and :func:`check_compliance` is called by training and by
artifact loading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, I64
from engine.core.vocab import Vocab
from ltr.aggregates import ItemAggregates
from ltr.compliance import FieldUse, check_feature_set, declared_aggregations

#: Distinct non-missing values of each restricted aggregate (ids 1..N, 0 = missing).
N_SELLER_RATING = 11  # seller rating rounded to 0.5: 0.0, 0.5, ..., 5.0
N_MARGIN_LEVEL = 3  # category margin tercile

FIELD_USES: tuple[FieldUse, ...] = (
    FieldUse("text", frozenset({"title", "description"}), None),
    FieldUse("categories", frozenset({"category_path"}), None),
    FieldUse("brand", frozenset({"brand"}), None),
    FieldUse("price_bucket", frozenset({"price"}), "price_percentile_in_category"),
    FieldUse(
        "seller_rating", frozenset({"seller_rating", "seller_order_count"}), "seller_rating_bucket"
    ),
    FieldUse("margin_level", frozenset({"cost_price", "price"}), "category_margin_level"),
    FieldUse("item_hash", frozenset({"id"}), None),
)


def check_compliance(min_support: int) -> None:
    """Raise :class:`ltr.compliance.ComplianceError` if an input reads a restricted field raw."""
    check_feature_set(FIELD_USES, declared_aggregations(min_support))


#: Embedding row of a vocabulary token = its :class:`Vocab` index + 1, so row 0 is left for
#: unknown / padding (an unknown token's index, -1, lands on it). Stated here only.
EMBEDDING_OFFSET = 1


def embedding_rows(vocab: Vocab) -> int:
    """Rows of the embedding table of ``vocab``: its tokens plus the unknown row 0."""
    return len(vocab) + EMBEDDING_OFFSET


def embedding_ids(vocab: Vocab, tokens: Iterable[str]) -> I64:
    """Embedding rows of ``tokens``: ``1..len(vocab)``, and 0 for a token not in ``vocab``."""
    return vocab.lookup(tokens) + EMBEDDING_OFFSET


def category_tokens(path: Sequence[str]) -> list[str]:
    """Every level of a category path as its prefix, so "Makeup" under two roots stays two:
    ``["Beauty", "Beauty>Makeup", "Beauty>Makeup>Lips"]``."""
    return [">".join(path[: i + 1]) for i in range(len(path))]


def pad_ids(rows: Sequence[Sequence[int]], width: int | None = None) -> I64:
    """Ragged id lists to an ``[n, width]`` matrix padded with 0 (truncated past ``width``)."""
    w = width if width is not None else max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), max(w, 1)), np.int64)
    for i, r in enumerate(rows):
        r = list(r)[:w]
        out[i, : len(r)] = r
    return out


def price_bucket(percentile: npt.ArrayLike, n_buckets: int) -> I64:
    """Price percentile within the leaf category (0..1) to ids ``1..n_buckets``; NaN -> 0."""
    p = np.asarray(percentile, dtype=np.float64)
    ok = np.isfinite(p)
    b = np.clip(np.floor(np.nan_to_num(p) * n_buckets), 0, n_buckets - 1).astype(np.int64) + 1
    return np.where(ok, b, 0)


def seller_rating_ids(bucket: npt.ArrayLike) -> I64:
    """Seller rating bucket (0.0..5.0 by 0.5, NaN below min support) to ids ``1..11``; NaN -> 0."""
    r = np.asarray(bucket, dtype=np.float64)
    ok = np.isfinite(r)
    ids = np.clip(np.round(np.nan_to_num(r) * 2), 0, N_SELLER_RATING - 1).astype(np.int64) + 1
    return np.where(ok, ids, 0)


def margin_level_ids(level: npt.ArrayLike) -> I64:
    """Category margin tercile (0, 1, 2; NaN below min support) to ids ``1..3``; NaN -> 0."""
    m = np.asarray(level, dtype=np.float64)
    ok = np.isfinite(m)
    ids = np.clip(np.nan_to_num(m), 0, N_MARGIN_LEVEL - 1).astype(np.int64) + 1
    return np.where(ok, ids, 0)


def hash_ids(item_ids: Sequence[str], n_buckets: int) -> I64:
    """Stable (process-independent) hash of each item id to ``1..n_buckets``."""
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little")
            % n_buckets
            + 1
            for i in item_ids
        ),
        dtype=np.int64,
        count=len(item_ids),
    )


@dataclass(frozen=True, slots=True)
class ItemFeatures:
    """Item-tower inputs for ``n`` items (row ``i`` of every column is one item).

    ``text`` is the frozen 384-d text embedding; ``categories`` holds category-vocabulary ids
    (each level of the path, or a bag of attributes) padded with 0; ``brand``,
    ``price_bucket``, ``seller_rating`` and ``margin_level`` are ids with 0 = unknown;
    ``item_hash`` is the hashed item id (read only by a tower built with hashed ids).
    """

    text: F32
    categories: I64
    brand: I64
    price_bucket: I64
    seller_rating: I64
    margin_level: I64
    item_hash: I64

    def __len__(self) -> int:
        return int(self.text.shape[0])

    def take(self, rows: npt.ArrayLike) -> ItemFeatures:
        r = np.asarray(rows, dtype=np.int64)
        return ItemFeatures(
            self.text[r],
            self.categories[r],
            self.brand[r],
            self.price_bucket[r],
            self.seller_rating[r],
            self.margin_level[r],
            self.item_hash[r],
        )

    @staticmethod
    def build(
        text: F32,
        categories: I64 | None = None,
        brand: I64 | None = None,
        price_bucket: I64 | None = None,
        seller_rating: I64 | None = None,
        margin_level: I64 | None = None,
        item_hash: I64 | None = None,
    ) -> ItemFeatures:
        """Columns left out are all-unknown (0)."""
        n = text.shape[0]

        def col(a: I64 | None) -> I64:
            return np.zeros(n, np.int64) if a is None else np.asarray(a, np.int64)

        cats = np.zeros((n, 1), np.int64) if categories is None else categories
        return ItemFeatures(
            np.ascontiguousarray(text, dtype=np.float32),
            np.asarray(cats, np.int64),
            col(brand),
            col(price_bucket),
            col(seller_rating),
            col(margin_level),
            col(item_hash),
        )


def aggregate_columns(aggs: ItemAggregates, n_price_buckets: int) -> tuple[I64, I64, I64]:
    """``(price_bucket, seller_rating, margin_level)`` id columns from the declared aggregates."""
    return (
        price_bucket(aggs.price_percentile_in_category, n_price_buckets),
        seller_rating_ids(aggs.seller_rating_bucket),
        margin_level_ids(aggs.category_margin_level),
    )


def csr_to_padded(indptr: npt.ArrayLike, indices: npt.ArrayLike, width: int = 8) -> I64:
    """CSR rows of ids (e.g. an attribute matrix) to an ``[n, width]`` 0-padded id matrix."""
    ip = np.asarray(indptr, dtype=np.int64)
    ix = np.asarray(indices, dtype=np.int64)
    return pad_ids([ix[ip[i] : ip[i + 1]].tolist() for i in range(len(ip) - 1)], width)
