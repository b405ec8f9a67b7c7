"""Vector top-k under a filter: picks the category blocks, the exact scan or the HNSW graph.

* The filter names top-level categories whose blocks hold at most ``max_share`` of the graph:
  one contiguous matmul per block, the rest of the filter evaluated at the block's rows
  (:mod:`.partitions`). Exact.
* Otherwise the row bitmask over the whole index goes to :meth:`VectorStore.search`: exact
  over the gathered rows when few pass, else HNSW with a bitmap selector (Lucene's strategy).
"""

from __future__ import annotations

import numpy as np

from search_plugins.embedded.attributes import AttributeColumns, BoolArray, IntArray
from search_plugins.embedded.partitions import PartitionedVectors
from search_plugins.embedded.vectors import VectorStore
from search_plugins.protocol import FloatArray, SearchFilter


class VectorSearch:
    """Keeps the category blocks in step with the columns and routes each vector query."""

    def __init__(
        self, attributes: AttributeColumns, vectors: VectorStore, max_share: float
    ) -> None:
        self.attributes, self.vectors, self.max_share = attributes, vectors, max_share
        self.blocks = PartitionedVectors(vectors.dim)
        a = attributes
        live = np.flatnonzero(a.alive[: a.n] & (a.model[: a.n] >= 0)).astype(np.int64)
        self.blocks.put(live, a.root_codes(a.category[live].astype(np.int64)), vectors.vecs[live])

    def refresh(self, rows: IntArray, fresh: BoolArray, dead: IntArray) -> None:
        """Mirror a refresh (columns and graph already written) in the blocks.

        ``rows`` were written, those flagged ``fresh`` with a new vector; ``dead`` were killed.
        """
        a, blocks = self.attributes, self.blocks
        roots = a.root_codes(a.category[rows].astype(np.int64))
        has = a.model[rows] >= 0
        moved = has & (fresh | (blocks.block_of(rows) != roots))
        blocks.put(rows[moved], roots[moved], self.vectors.vecs[rows[moved]])
        blocks.remove(rows[~has])
        blocks.remove(dead)

    def block_roots(self, flt: SearchFilter | None) -> list[int] | None:
        """Top-level category blocks to scan for ``flt``, or None to use the row bitmask."""
        roots = self.attributes.filter_roots(flt)
        if roots is None or self.max_share <= 0:
            return None
        small = self.blocks.size(roots) <= self.max_share * self.vectors.n_graph
        return roots if small else None

    def search(
        self, query: FloatArray, k: int, flt: SearchFilter | None, model: str, exclude: list[int]
    ) -> tuple[IntArray, FloatArray]:
        """Top-k rows of ``model`` (any when "") passing ``flt`` and not in ``exclude``."""
        roots = self.block_roots(flt)
        if roots is not None:
            a = self.attributes
            return self.blocks.search(
                query, k, roots, lambda at: a.mask_at(flt, model, at), exclude
            )
        mask, count = self.attributes.mask(flt, model)
        if exclude:
            mask = mask.copy()
            count -= int(np.count_nonzero(mask[exclude]))
            mask[exclude] = False
        return self.vectors.search(query, k, mask, count)
