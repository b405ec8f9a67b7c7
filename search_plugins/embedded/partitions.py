"""Vectors clustered by top-level category, for exact search under category filters.

A filter on a few top-level categories is the commonest restrictive filter (a shop's category
page). Scoring the rows that pass it exactly is the right answer, but gathering 50K scattered
rows out of a 1M-row matrix costs far more than the matmul itself. So, like an index sorted by
category (Lucene index sorting, Vespa/Milvus partitions), every live vector also lives in the
contiguous block of its root category: a category-restricted query is one matmul over that
block, with the rest of the filter applied as a mask over the block's rows.

Blocks are maintained at refresh: a (re)written row is appended to its block and its old slot,
if any, becomes a tombstone; a block is rewritten once tombstones outnumber live slots. The
blocks are derived state (rebuilt from the row-addressed vectors on open), never persisted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from search_plugins.embedded.attributes import BoolArray, IntArray
from search_plugins.embedded.vectors import top_k
from search_plugins.protocol import FloatArray


class _Block:
    """One root category: vectors in slots ``[0, n)``, their rows, and which slots are live."""

    def __init__(self, dim: int) -> None:
        self.vecs = np.zeros((0, dim), dtype=np.float32)
        self.rows = np.zeros(0, dtype=np.int64)
        self.live = np.zeros(0, dtype=np.bool_)
        self.n = 0
        self.n_live = 0

    def append(self, rows: IntArray, vecs: FloatArray) -> IntArray:
        """Append rows; returns their slots."""
        lo, hi = self.n, self.n + len(rows)
        if hi > len(self.rows):
            cap = max(hi, 2 * len(self.rows), 1024)
            for name in ("vecs", "rows", "live"):
                old = getattr(self, name)
                fresh = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
                fresh[:lo] = old[:lo]
                setattr(self, name, fresh)
        self.vecs[lo:hi] = vecs
        self.rows[lo:hi] = rows
        self.live[lo:hi] = True
        self.n, self.n_live = hi, self.n_live + len(rows)
        return np.arange(lo, hi, dtype=np.int64)

    def compact(self) -> tuple[IntArray, IntArray]:
        """Drop tombstones; returns (rows, new slots) of the live slots that moved."""
        keep = np.flatnonzero(self.live[: self.n])
        rows = self.rows[keep]
        self.vecs = np.ascontiguousarray(self.vecs[keep])
        self.rows = rows.copy()
        self.live = np.ones(len(keep), dtype=np.bool_)
        self.n = self.n_live = len(keep)
        return rows, np.arange(len(keep), dtype=np.int64)


class PartitionedVectors:
    """Live vectors grouped into one contiguous block per root-category code."""

    def __init__(self, dim: int, compact_min: int = 1024) -> None:
        self.dim = dim
        self.compact_min = compact_min  # rewrite a block once it has this many tombstones...
        self.blocks: dict[int, _Block] = {}
        self.block_of_row = np.full(0, -1, dtype=np.int32)  # -1: the row has no slot
        self.slot_of_row = np.zeros(0, dtype=np.int64)

    def _grow(self, n: int) -> None:
        cap = len(self.block_of_row)
        if n <= cap:
            return
        new_cap = max(n, 2 * cap, 1024)
        block = np.full(new_cap, -1, dtype=np.int32)
        block[:cap] = self.block_of_row
        slot = np.zeros(new_cap, dtype=np.int64)
        slot[:cap] = self.slot_of_row
        self.block_of_row, self.slot_of_row = block, slot

    def block_of(self, rows: IntArray) -> IntArray:
        """The block (root code) holding each row, -1 for none."""
        out = np.full(len(rows), -1, dtype=np.int64)
        inside = rows < len(self.block_of_row)
        out[inside] = self.block_of_row[rows[inside]]
        return out

    def size(self, roots: list[int]) -> int:
        """Slots (live or not) a scan of these roots' blocks would touch."""
        return sum(self.blocks[r].n for r in roots if r in self.blocks)

    # -- maintenance (under the index's exclusive lock) -------------------------------------
    def remove(self, rows: IntArray) -> None:
        """Tombstone the slots of ``rows`` (unique; rows without a slot are ignored)."""
        rows = rows[rows < len(self.block_of_row)]
        blocks = self.block_of_row[rows]
        has = blocks >= 0
        rows, blocks = rows[has], blocks[has]
        for b in np.unique(blocks).tolist():
            block = self.blocks[b]
            slots = self.slot_of_row[rows[blocks == b]]
            block.live[slots] = False
            block.n_live -= len(slots)
        self.block_of_row[rows] = -1
        for b in np.unique(blocks).tolist():
            self._maybe_compact(b)

    def put(self, rows: IntArray, roots: IntArray, vecs: FloatArray) -> None:
        """(Re)place ``rows`` (unique) with these vectors in the blocks of ``roots``."""
        if len(rows) == 0:
            return
        self.remove(rows)
        self._grow(int(rows.max()) + 1)
        order = np.argsort(roots, kind="stable")
        rows, roots, vecs = rows[order], roots[order], vecs[order]
        starts = np.flatnonzero(np.r_[True, roots[1:] != roots[:-1]])
        for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(rows)], strict=True):
            root = int(roots[lo])
            block = self.blocks.setdefault(root, _Block(self.dim))
            slots = block.append(rows[lo:hi], vecs[lo:hi])
            self.block_of_row[rows[lo:hi]] = root
            self.slot_of_row[rows[lo:hi]] = slots

    def _maybe_compact(self, root: int) -> None:
        block = self.blocks[root]
        dead = block.n - block.n_live
        if dead >= self.compact_min and dead > block.n_live:  # ... and more than live slots
            rows, slots = block.compact()
            self.slot_of_row[rows] = slots

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        query: FloatArray,
        k: int,
        roots: list[int],
        keep: Callable[[IntArray], BoolArray],
        exclude: list[int],
    ) -> tuple[IntArray, FloatArray]:
        """Exact top-k over the blocks of ``roots``, among rows for which ``keep`` is true.

        ``keep`` gets a block's row numbers (tombstoned slots included) and returns the
        filter mask over them; ``exclude`` lists rows to leave out.
        """
        all_rows: list[IntArray] = []
        all_scores: list[FloatArray] = []
        for root in roots:
            block = self.blocks.get(root)
            if block is None or block.n_live == 0 or k <= 0:
                continue
            rows = block.rows[: block.n]
            ok = block.live[: block.n] & keep(rows)
            for r in exclude:
                if r < len(self.block_of_row) and self.block_of_row[r] == root:
                    ok[self.slot_of_row[r]] = False
            slots = np.flatnonzero(ok)
            if len(slots) == 0:
                continue
            if 4 * len(slots) < block.n:  # few survivors: gathering them beats the full matmul
                scores = block.vecs[slots] @ query
            else:
                scores = (block.vecs[: block.n] @ query)[slots]
            best = top_k(scores, k)
            all_rows.append(rows[slots[best]])
            all_scores.append(scores[best])
        if not all_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows_c, scores_c = np.concatenate(all_rows), np.concatenate(all_scores)
        best = top_k(scores_c, k)
        return rows_c[best].astype(np.int64), scores_c[best].astype(np.float32)
