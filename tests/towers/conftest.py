from __future__ import annotations

import numpy as np

from towers.data import Examples, sequence_examples
from towers.features import ItemFeatures
from towers.text import TEXT_DIM


def random_features(
    n: int, seed: int = 0, n_categories: int = 7, n_brands: int = 5
) -> ItemFeatures:
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, TEXT_DIM)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return ItemFeatures.build(
        text,
        categories=rng.integers(0, n_categories, (n, 3)),
        brand=rng.integers(0, n_brands, n),
        price_bucket=rng.integers(0, 11, n),
        seller_rating=rng.integers(0, 12, n),
        margin_level=rng.integers(0, 4, n),
        item_hash=rng.integers(1, 33, n),
    )


def cluster_world(
    n_items: int = 60, n_users: int = 120, length: int = 8, seed: int = 0
) -> tuple[ItemFeatures, Examples, Examples]:
    """Items in 4 clusters (category = cluster, text near the cluster centre); each user
    browses one cluster. Training examples are every prefix but the last item, validation
    predicts the last item: a world whose right answer is known (same cluster)."""
    rng = np.random.default_rng(seed)
    cluster = np.arange(n_items) % 4
    centres = rng.normal(size=(4, TEXT_DIM))
    text = (centres[cluster] + 0.3 * rng.normal(size=(n_items, TEXT_DIM))).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    feats = ItemFeatures.build(text, categories=(cluster + 1).reshape(-1, 1))
    user_cluster = np.arange(n_users) % 4
    pools = [np.flatnonzero(cluster == c) for c in range(4)]
    items = np.concatenate([rng.choice(pools[c], length, replace=False) for c in user_cluster])
    indptr = np.arange(n_users + 1, dtype=np.int64) * length
    users = np.repeat(np.arange(n_users), length - 1)
    cuts = np.tile(np.arange(length - 1), n_users)
    train = sequence_examples(indptr, items.astype(np.int64), cuts, users)
    valid = sequence_examples(
        indptr, items.astype(np.int64), np.full(n_users, length - 1), np.arange(n_users)
    )
    return feats, train, valid
