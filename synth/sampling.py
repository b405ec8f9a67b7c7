"""Vectorised popularity-weighted item sampling within a leaf, mid or root category.

Items are sorted by leaf, so any category is a contiguous range of the sorted order; drawing
from a range is one ``searchsorted`` on the cumulative popularity. A second cumulative array
with zero mass for items created during the simulation draws "old items only", used to replace
draws that would show an item before it exists.
"""

from __future__ import annotations

import numpy as np

from engine.core.arrays import F64, I32, I64


class ItemSampler:
    def __init__(
        self, leaf: I32, n_leaves: int, popularity: F64, created_at: F64, start: float
    ) -> None:
        self.order: I32 = np.argsort(leaf, kind="stable").astype(np.int32)
        sorted_leaf = leaf[self.order]
        self.leaf_lo: I64 = np.searchsorted(sorted_leaf, np.arange(n_leaves + 1), "left")
        w = popularity[self.order]
        self.cum = np.concatenate([[0.0], np.cumsum(w)])
        old = created_at[self.order] <= start
        self.cum_old = np.concatenate([[0.0], np.cumsum(np.where(old, w, 0.0))])
        self.created_at = created_at
        new = np.flatnonzero(created_at > start)
        self.new_items: I64 = new[np.argsort(created_at[new], kind="stable")]
        self.new_created: F64 = created_at[self.new_items]
        self.n_items = len(leaf)

    def draw(
        self, rng: np.random.Generator, first_leaf: I64, last_leaf: I64, old_only: bool = False
    ) -> I64:
        """One item per row from leaves ``[first_leaf, last_leaf)``, by popularity.

        Rows whose range is empty (or has no old item when ``old_only``) fall back to the
        whole catalog.
        """
        cum = self.cum_old if old_only else self.cum
        lo = self.leaf_lo[first_leaf]
        hi = self.leaf_lo[last_leaf]
        m_lo, m_hi = cum[lo], cum[hi]
        empty = m_hi <= m_lo
        m_lo = np.where(empty, 0.0, m_lo)
        m_hi = np.where(empty, cum[-1], m_hi)
        lo = np.where(empty, 0, lo)
        hi = np.where(empty, self.n_items, hi)
        target = m_lo + rng.random(len(lo)) * (m_hi - m_lo)
        pos = np.clip(np.searchsorted(cum, target, "right") - 1, lo, hi - 1)
        out: I64 = self.order[pos].astype(np.int64)
        return out

    def fresh(self, rng: np.random.Generator, ts: F64, mean_rank: float = 50.0) -> I64:
        """Recently created items (most recent first, geometric in rank); -1 if none yet."""
        back = np.floor(rng.exponential(mean_rank, len(ts))).astype(np.int64)
        if len(self.new_items) == 0:
            return np.full(len(ts), -1, np.int64)
        k = np.searchsorted(self.new_created, ts, "right")
        idx = np.maximum(k - 1 - back, 0)
        out: I64 = np.where(k > 0, self.new_items[idx], -1).astype(np.int64)
        return out

    def fix_unborn(self, rng: np.random.Generator, items: I64, ts: F64, leaf: I32) -> I64:
        """Replace items not yet created at ``ts`` by an old item of the same leaf."""
        bad = (items < 0) | (self.created_at[np.maximum(items, 0)] > ts)
        if bad.any():
            none = items[bad] < 0
            lf = leaf[np.maximum(items[bad], 0)].astype(np.int64)
            first = np.where(none, 0, lf)
            last = np.where(none, len(self.leaf_lo) - 1, lf + 1)
            items = items.copy()
            items[bad] = self.draw(rng, first, last, old_only=True)
        return items
