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
Blocks are keyed by an int the caller chooses (the index uses (model version, root category)).
"""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from engine.core.arrays import F32, I64, Bool
from engine.core.retrieval.exact import top_k_indices


def inner_products(vecs: F32, query: F32, out: F32 | None = None) -> F32:
    """``vecs @ query`` on the calling thread (faiss' SIMD kernel), into ``out`` if given.

    OpenBLAS splits a 50K-row gemv over its thread pool; on a busy machine the main thread
    then waits a scheduler tick (~8 ms measured on 2 shared cores) for a worker to run.
    """
    x = np.ascontiguousarray(vecs, dtype=np.float32)
    q = np.ascontiguousarray(query, dtype=np.float32)
    if out is None:
        out = np.empty(len(x), dtype=np.float32)
    assert out.shape == (len(x),) and out.dtype == np.float32 and out.flags.c_contiguous
    if len(x):
        faiss.fvec_inner_products_ny(  # type: ignore[attr-defined]
            faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(x), x.shape[1], len(x)
        )
    return out


class _Block:
    """One block: vectors in slots ``[0, n)``, their rows, and which slots are live."""

    def __init__(self, dim: int) -> None:
        self.vecs = np.zeros((0, dim), dtype=np.float32)
        self.rows = np.zeros(0, dtype=np.int64)
        self.live = np.zeros(0, dtype=np.bool_)
        self.n = 0
        self.n_live = 0

    def append(self, rows: I64, vecs: F32) -> I64:
        """Append rows; returns their slots."""
        lo, hi = self.n, self.n + len(rows)
        if hi > len(self.rows):
            # no minimum capacity: a marketplace has many brands with a handful of items
            cap = max(hi, 2 * len(self.rows))
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

    def compact(self) -> tuple[I64, I64]:
        """Drop tombstones; returns (rows, new slots) of the live slots that moved."""
        keep = np.flatnonzero(self.live[: self.n])
        rows = self.rows[keep]
        self.vecs = np.ascontiguousarray(self.vecs[keep])
        self.rows = rows.copy()
        self.live = np.ones(len(keep), dtype=np.bool_)
        self.n = self.n_live = len(keep)
        return rows, np.arange(len(keep), dtype=np.int64)


class PartitionedVectors:
    """Live vectors grouped into contiguous blocks by an int key (the caller's partitioning)."""

    def __init__(self, dim: int, compact_min: int = 1024) -> None:
        self.dim = dim
        self.compact_min = compact_min  # rewrite a block once it has this many tombstones...
        self.blocks: dict[int, _Block] = {}
        self.block_of_row = np.full(0, -1, dtype=np.int64)  # -1: the row has no slot
        self.slot_of_row = np.zeros(0, dtype=np.int64)

    def _grow(self, n: int) -> None:
        cap = len(self.block_of_row)
        if n <= cap:
            return
        new_cap = max(n, 2 * cap, 1024)
        block = np.full(new_cap, -1, dtype=np.int64)
        block[:cap] = self.block_of_row
        slot = np.zeros(new_cap, dtype=np.int64)
        slot[:cap] = self.slot_of_row
        self.block_of_row, self.slot_of_row = block, slot

    def block_of(self, rows: I64) -> I64:
        """The key of the block holding each row, -1 for none."""
        out = np.full(len(rows), -1, dtype=np.int64)
        inside = rows < len(self.block_of_row)
        out[inside] = self.block_of_row[rows[inside]]
        return out

    def size(self, keys: list[int]) -> int:
        """Slots (live or not) a scan of these blocks would touch."""
        return sum(self.blocks[k].n for k in keys if k in self.blocks)

    # -- maintenance (under the index's exclusive lock) -------------------------------------
    def remove(self, rows: I64) -> None:
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

    def put(self, rows: I64, keys: I64, vecs: F32) -> None:
        """(Re)place ``rows`` (unique) with these vectors in the blocks ``keys`` (>= 0)."""
        if len(rows) == 0:
            return
        self.remove(rows)
        self._grow(int(rows.max()) + 1)
        order = np.argsort(keys, kind="stable")
        rows, keys, vecs = rows[order], keys[order], vecs[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(rows)], strict=True):
            key = int(keys[lo])
            block = self.blocks.setdefault(key, _Block(self.dim))
            slots = block.append(rows[lo:hi], vecs[lo:hi])
            self.block_of_row[rows[lo:hi]] = key
            self.slot_of_row[rows[lo:hi]] = slots

    def _maybe_compact(self, key: int) -> None:
        block = self.blocks[key]
        dead = block.n - block.n_live
        if dead >= self.compact_min and dead > block.n_live:  # ... and more than live slots
            rows, slots = block.compact()
            self.slot_of_row[rows] = slots

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        query: F32,
        k: int,
        keys: list[int],
        keep: Callable[[I64], Bool] | None,
        exclude: list[int],
    ) -> tuple[I64, F32]:
        """Exact top-k over the blocks ``keys``, among rows for which ``keep`` is true.

        ``keep`` gets the blocks' row numbers (tombstoned slots included) and returns the
        filter mask over them (None: every live slot passes); ``exclude`` lists rows to skip.
        The blocks are scanned as one concatenated candidate list: the filter is evaluated
        once and one top-k selection is made, whatever the number of blocks.
        """
        empty = np.zeros(0, np.int64), np.zeros(0, np.float32)
        found = [(key, self.blocks.get(key)) for key in keys]
        chosen = [(key, b) for key, b in found if b is not None and b.n_live > 0]
        if not chosen or k <= 0:
            return empty
        sizes = [b.n for _, b in chosen]
        offsets = np.cumsum([0, *sizes])
        rows = np.concatenate([b.rows[: b.n] for _, b in chosen])
        ok = np.concatenate([b.live[: b.n] for _, b in chosen])
        if keep is not None:
            ok &= keep(rows)
        if exclude:
            where = {key: j for j, (key, _) in enumerate(chosen)}
            for r in exclude:
                if r < len(self.block_of_row):
                    j = where.get(int(self.block_of_row[r]))
                    if j is not None:
                        ok[offsets[j] + self.slot_of_row[r]] = False
        scores = np.empty(len(rows), dtype=np.float32)
        for j, (_, block) in enumerate(chosen):
            lo, hi = int(offsets[j]), int(offsets[j + 1])
            slots = np.flatnonzero(ok[lo:hi])
            if 4 * len(slots) < hi - lo:  # few survivors: gathering them beats the full pass
                scores[lo + slots] = inner_products(block.vecs[slots], query)
            else:
                inner_products(block.vecs[: block.n], query, out=scores[lo:hi])
        if ok.all():  # every slot passes (no tombstones, no residual filter)
            best = top_k_indices(scores, k)
        else:
            passing = np.flatnonzero(ok)
            if len(passing) == 0:
                return empty
            best = passing[top_k_indices(scores[passing], k)]
        return rows[best].astype(np.int64), scores[best].astype(np.float32)
