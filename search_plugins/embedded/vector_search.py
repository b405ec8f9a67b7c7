"""Vector top-k under a filter: picks the category blocks, the exact scan or the HNSW graph.

* The filter names top-level categories whose blocks hold at most ``max_share`` of the graph:
  one contiguous matmul per (model version, root category) block, the rest of the filter
  evaluated at the block's rows (:mod:`.partitions`). Exact.
* Otherwise the row bitmask over the whole index goes to :meth:`VectorStore.search`: exact
  over the gathered rows when few pass, else HNSW with a bitmap selector (Lucene's strategy).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from search_plugins.embedded.attributes import (
    AttributeColumns,
    BoolArray,
    IntArray,
    category_prefixes,
)
from search_plugins.embedded.partitions import PartitionedVectors
from search_plugins.embedded.vectors import VectorStore
from search_plugins.protocol import FloatArray, SearchFilter

_STRIDE = 1 << 16  # block key = model code * _STRIDE + root code (model codes are int16)


class VectorSearch:
    """Keeps the category blocks in step with the columns and routes each vector query."""

    def __init__(
        self, attributes: AttributeColumns, vectors: VectorStore, max_share: float
    ) -> None:
        self.attributes, self.vectors, self.max_share = attributes, vectors, max_share
        self.blocks = PartitionedVectors(vectors.dim)
        a = attributes
        live = np.flatnonzero(a.alive[: a.n] & (a.model[: a.n] >= 0)).astype(np.int64)
        self.blocks.put(live, self._keys(live), vectors.vecs[live])

    def _keys(self, rows: IntArray) -> IntArray:
        a = self.attributes
        roots = a.root_codes(a.category[rows].astype(np.int64))
        return a.model[rows].astype(np.int64) * _STRIDE + roots

    def refresh(self, rows: IntArray, fresh: BoolArray, dead: IntArray) -> None:
        """Mirror a refresh (columns and graph already written) in the blocks.

        ``rows`` were written, those flagged ``fresh`` with a new vector; ``dead`` were killed.
        """
        blocks, has = self.blocks, self.attributes.model[rows] >= 0
        keys = self._keys(rows)
        moved = has & (fresh | (blocks.block_of(rows) != keys))
        blocks.put(rows[moved], keys[moved], self.vectors.vecs[rows[moved]])
        blocks.remove(rows[~has])
        blocks.remove(dead)

    def block_keys(self, flt: SearchFilter | None, model: str) -> list[int] | None:
        """Blocks to scan for ``flt`` and ``model``, or None to use the row bitmask."""
        roots = self.attributes.filter_roots(flt)
        if roots is None or self.max_share <= 0:
            return None
        if model:
            code = self.attributes.models.index.get(model)
            keys = [] if code is None else [code * _STRIDE + r for r in roots]
        else:
            wanted = set(roots)
            keys = sorted(k for k in self.blocks.blocks if k % _STRIDE in wanted)
        small = self.blocks.size(keys) <= self.max_share * self.vectors.n_graph
        return keys if small else None

    def search(
        self, query: FloatArray, k: int, flt: SearchFilter | None, model: str, exclude: list[int]
    ) -> tuple[IntArray, FloatArray]:
        """Top-k rows of ``model`` (any when "") passing ``flt`` and not in ``exclude``."""
        keys = self.block_keys(flt, model)
        if keys is not None and flt is not None:
            rest = _residual(flt)
            a = self.attributes
            keep = None if rest is None else (lambda at: a.filter_at(rest, at))
            return self.blocks.search(query, k, keys, keep, exclude)
        mask, count = self.attributes.mask(flt, model)
        if exclude:
            mask = mask.copy()
            count -= int(np.count_nonzero(mask[exclude]))
            mask[exclude] = False
        return self.vectors.search(query, k, mask, count)


def _residual(flt: SearchFilter) -> SearchFilter | None:
    """What a root-category block does not already guarantee about ``flt`` (None: nothing).

    Blocks hold only live vectors of one model and one root, so a category constraint made
    of root names alone is implied; exclusions are applied by the block scan itself.
    """
    cats = flt.categories or ()
    roots_only = all(category_prefixes(c) == [c] for c in cats)
    rest = dataclasses.replace(
        flt, categories=None if roots_only else flt.categories, exclude_ids=frozenset()
    )
    return None if rest.is_empty() else rest
