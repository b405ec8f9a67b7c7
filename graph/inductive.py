"""Graph-space vectors for items with no interactions, from their content.

LightGCN has a vector only for items that were in its training graph; an item ingested later
has none. :class:`ContentMap` is a ridge regression from content features to the trained item
vectors, fitted on the items with at least ``min_degree`` interactions (their vectors are the
reliable ones) and applied to any item. Content features (:func:`content_features`) are sparse:
one-hot leaf and root category, hashed brand, hashed title-and-brand tokens (the catalog's
token ids) scaled by ``1/sqrt(#tokens)``, and the price's log. The fit solves the
``d x d`` normal equations once (``d`` is a few thousand), so refitting after each full retrain
takes seconds; applying it to a micro-batch of new items is one sparse product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog


@dataclass(frozen=True, slots=True)
class FeatureSpace:
    n_categories: int
    n_roots: int
    brand_bins: int = 512
    token_bins: int = 4096

    @property
    def dim(self) -> int:
        return self.n_categories + self.n_roots + self.brand_bins + self.token_bins + 2


def content_features(catalog: Catalog, rows: I64, space: FeatureSpace) -> sp.csr_matrix:
    """Sparse content features of catalog ``rows`` (categories unseen when ``space`` was fixed
    contribute nothing)."""
    rows = np.asarray(rows, np.int64)
    n = len(rows)
    cols: list[I64] = []
    vals: list[F32] = []
    rid: list[I64] = []
    at = np.arange(n, dtype=np.int64)
    offset = 0
    for values, width in (
        (catalog.category.values[rows], space.n_categories),
        (catalog.root_category.values[rows], space.n_roots),
    ):
        ok = (values >= 0) & (values < width)
        rid.append(at[ok])
        cols.append(offset + values[ok].astype(np.int64))
        vals.append(np.ones(int(ok.sum()), np.float32))
        offset += width
    brand = catalog.brand.values[rows]
    ok = brand >= 0
    rid.append(at[ok])
    cols.append(offset + brand[ok].astype(np.int64) % space.brand_bins)
    vals.append(np.ones(int(ok.sum()), np.float32))
    offset += space.brand_bins
    tokens, lengths = catalog.tokens.gather(rows)
    owner = np.repeat(at, lengths)
    rid.append(owner)
    cols.append(offset + (tokens * 2_654_435_761 % space.token_bins))
    vals.append((1.0 / np.sqrt(np.maximum(lengths, 1)))[owner].astype(np.float32))
    offset += space.token_bins
    rid += [at, at]
    cols += [np.full(n, offset, np.int64), np.full(n, offset + 1, np.int64)]
    vals += [
        np.log1p(np.maximum(catalog.price.values[rows], 0)).astype(np.float32) / 5.0,
        np.ones(n, np.float32),  # bias
    ]
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rid), np.concatenate(cols))),
        shape=(n, space.dim),
        dtype=np.float32,
    )


class ContentMap:
    """Ridge regression ``W = argmin |X W - Y|^2 + l2 |W|^2`` from content to graph space."""

    def __init__(self, space: FeatureSpace, weights: F32) -> None:
        if weights.shape[0] != space.dim:
            raise ValueError("weights do not match the feature space")
        self.space = space
        self.weights = weights.astype(np.float32)

    @classmethod
    def fit(cls, catalog: Catalog, rows: I64, targets: F32, l2: float = 1.0) -> ContentMap:
        space = FeatureSpace(len(catalog.categories), len(catalog.roots))
        x = content_features(catalog, rows, space)
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += l2
        rhs = np.asarray(x.T @ targets.astype(np.float64))
        w = np.linalg.solve(gram, rhs)
        return cls(space, w.astype(np.float32))

    def predict(self, catalog: Catalog, rows: I64) -> F32:
        x = content_features(catalog, rows, self.space)
        return np.asarray(x @ self.weights, dtype=np.float32)

    def save(self, path: Path) -> None:
        s = self.space
        np.savez(
            path,
            weights=self.weights,
            space=np.array([s.n_categories, s.n_roots, s.brand_bins, s.token_bins]),
        )

    @classmethod
    def load(cls, path: Path) -> ContentMap:
        with np.load(path) as z:
            nc, nr, bb, tb = (int(v) for v in z["space"])
            return cls(FeatureSpace(nc, nr, bb, tb), z["weights"])
