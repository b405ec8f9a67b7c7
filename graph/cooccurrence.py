"""The item-item graph of things bought (or carted, or viewed) together, kept up to date.

Events of one user, ordered in time, pair each event ``a`` with the next ``window`` events ``b``
no more than ``horizon`` seconds later (a purchase and its follow-up purchase often fall in
different sessions, so the unit is the user, not the session). A pair adds to the directed
edge ``a -> b``::

    C[a, b] += min(w_a, w_b) * 2 ** ((t_b - t0) / half_life)

and ``backward`` times that to ``b -> a``. ``w`` is the event-kind weight (purchase > cart >
click), so a purchase followed by a purchase weighs most and two clicks least. The weights grow
with time instead of old ones decaying: every row is scaled alike, so the ranking equals that of
a decay to "now", and new events are added without touching old ones. The served matrix is
``C[a, b] / sqrt(f_a f_b)`` (``f``: the item's summed pair weight) cut to the ``top_n`` best
neighbours of each item.

:meth:`ItemGraph.add` takes a batch of new events: it pairs them with each user's last buffered
events, adds the pairs, and recomputes the served rows of the items they touch, so
bought-together neighbours follow new purchases within one micro-batch; a full
:meth:`ItemGraph.build` on a schedule repairs the normalisation of rows not touched since.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.core.arrays import F32, F64, I64
from engine.core.retrieval.covisitation import csr_topk, weighted_neighbors

#: Event kinds of the synthetic log: 0 impression, 1 click, 2 cart, 3 purchase.
DEFAULT_KIND_WEIGHTS = (0.0, 0.2, 1.0, 3.0)


@dataclass(frozen=True, slots=True)
class ItemGraphParams:
    window: int = 5
    horizon: float = 7 * 86_400.0
    half_life: float = 14 * 86_400.0
    backward: float = 0.3
    kind_weights: tuple[float, ...] = DEFAULT_KIND_WEIGHTS
    top_n: int = 100
    buffer: int = 10  # events kept per user for pairing with later batches


@dataclass(frozen=True, slots=True)
class Events:
    """Event columns (any order)."""

    user: I64
    item: I64
    kind: npt.NDArray[np.integer]
    ts: F64

    def __post_init__(self) -> None:
        n = len(self.user)
        if not (len(self.item) == len(self.kind) == len(self.ts) == n):
            raise ValueError("user, item, kind and ts must have the same length")

    def select(self, mask: npt.NDArray[np.bool_] | I64) -> Events:
        return Events(self.user[mask], self.item[mask], self.kind[mask], self.ts[mask])

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(
            np.concatenate([p.user for p in parts]).astype(np.int64),
            np.concatenate([p.item for p in parts]).astype(np.int64),
            np.concatenate([p.kind for p in parts]),
            np.concatenate([p.ts for p in parts]).astype(np.float64),
        )


def _pairs(
    ev: Events, w: F64, p: ItemGraphParams, t0: float, new_from: npt.NDArray[np.bool_] | None
) -> tuple[I64, I64, F64]:
    """Directed weighted pairs of ``ev`` (sorted by user then time); with ``new_from``, only
    pairs whose later event is new."""
    rows: list[I64] = []
    cols: list[I64] = []
    vals: list[F64] = []
    n = len(ev.item)
    for gap in range(1, p.window + 1):
        if gap >= n:
            break
        a = np.flatnonzero(
            (ev.user[gap:] == ev.user[:-gap])
            & (ev.item[gap:] != ev.item[:-gap])
            & (ev.ts[gap:] - ev.ts[:-gap] <= p.horizon)
        )
        b = a + gap
        if new_from is not None:
            keep = new_from[b]
            a, b = a[keep], b[keep]
        v = np.minimum(w[a], w[b]) * np.exp2((ev.ts[b] - t0) / p.half_life)
        rows += [ev.item[a], ev.item[b]]
        cols += [ev.item[b], ev.item[a]]
        vals += [v, v * p.backward]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


class ItemGraph:
    """Directed, time-weighted item co-interaction counts and their served top-N rows."""

    def __init__(self, n_items: int, params: ItemGraphParams | None = None, t0: float = 0.0):
        self.params = params or ItemGraphParams()
        self.t0 = t0
        self.counts = sp.csr_matrix((n_items, n_items), dtype=np.float64)
        self.freq = np.zeros(n_items, np.float64)
        self.served = sp.csr_matrix((n_items, n_items), dtype=np.float32)
        self._buffer: dict[int, Events] = {}

    @property
    def n_items(self) -> int:
        return int(self.counts.shape[0])

    @classmethod
    def build(
        cls, events: Events, n_items: int, params: ItemGraphParams | None = None
    ) -> ItemGraph:
        """From scratch; ``t0`` is the earliest event time."""
        t0 = float(events.ts.min()) if len(events.ts) else 0.0
        g = cls(n_items, params, t0)
        g.add(events)
        return g

    def resize(self, n_items: int) -> None:
        """Grow to ``n_items`` (new catalog rows start with no neighbours)."""
        if n_items < self.n_items:
            raise ValueError("an item graph only grows")
        if n_items == self.n_items:
            return
        shape = (n_items, n_items)
        self.counts = sp.csr_matrix(
            (self.counts.data, self.counts.indices, _grow(self.counts.indptr, n_items)), shape
        )
        self.served = sp.csr_matrix(
            (self.served.data, self.served.indices, _grow(self.served.indptr, n_items)), shape
        )
        self.freq = np.concatenate([self.freq, np.zeros(n_items - len(self.freq))])

    def _weights(self, kind: npt.NDArray[np.integer]) -> F64:
        kw = np.asarray(self.params.kind_weights, np.float64)
        return kw[np.clip(kind.astype(np.int64), 0, len(kw) - 1)]

    def add(self, events: Events) -> I64:
        """Add new events; returns the item rows whose served neighbours were recomputed."""
        w_new = self._weights(events.kind)
        events = events.select(w_new > 0)
        if len(events.item) == 0:
            return np.zeros(0, np.int64)
        if int(events.item.max()) >= self.n_items:
            self.resize(int(events.item.max()) + 1)
        users = np.unique(events.user)
        old = [self._buffer[int(u)] for u in users if int(u) in self._buffer]
        merged = Events.concat([*old, events])
        is_new = np.concatenate(
            [np.zeros(sum(len(o.item) for o in old), bool), np.ones(len(events.item), bool)]
        )
        order = np.lexsort((merged.ts, merged.user))
        merged, is_new = merged.select(order), is_new[order]
        r, c, v = _pairs(merged, self._weights(merged.kind), self.params, self.t0, is_new)
        self._remember(merged)
        if len(r) == 0:
            return np.zeros(0, np.int64)
        delta = sp.csr_matrix((v, (r, c)), shape=self.counts.shape)
        self.counts = sp.csr_matrix(self.counts + delta)
        self.freq += np.bincount(r, weights=v, minlength=self.n_items)
        touched = np.unique(r)
        self._refresh(touched)
        return touched

    def _remember(self, merged: Events) -> None:
        """Keep the last ``buffer`` events of each user of ``merged`` (sorted by user, time)."""
        bounds = np.flatnonzero(np.diff(merged.user)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(merged.user)]])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            self._buffer[int(merged.user[s])] = merged.select(
                np.arange(max(s, e - self.params.buffer), e)
            )

    def _refresh(self, rows: I64) -> None:
        inv = np.zeros_like(self.freq)
        np.divide(1.0, np.sqrt(self.freq), out=inv, where=self.freq > 0)
        part = sp.csr_matrix(self.counts[rows])
        part = sp.csr_matrix(sp.diags(inv[rows]) @ part @ sp.diags(inv), dtype=np.float32)
        fresh = csr_topk(part, self.params.top_n).tocoo()
        keep = np.ones(self.n_items, np.float32)
        keep[rows] = 0
        rest = sp.diags(keep) @ self.served
        new_rows = sp.csr_matrix(
            (fresh.data, (rows[fresh.row], fresh.col)), shape=self.served.shape
        )
        self.served = sp.csr_matrix(rest + new_rows, dtype=np.float32)

    def neighbors(
        self, rows: I64, weights: F32, k: int, exclude: I64 | None = None
    ) -> tuple[I64, F32]:
        """Top ``k`` items bought together with the weighted seed items ``rows``."""
        known = rows < self.n_items
        if not known.any():
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return weighted_neighbors(self.served, rows[known], weights[known], k, exclude)


def _grow(indptr: npt.NDArray[np.integer], n: int) -> I64:
    out = np.empty(n + 1, np.int64)
    out[: len(indptr)] = indptr
    out[len(indptr) :] = indptr[-1]
    return out


def save_item_graph(g: ItemGraph, path: Path) -> None:
    p = g.params
    np.savez(
        path,
        counts_data=g.counts.data,
        counts_indices=g.counts.indices,
        counts_indptr=g.counts.indptr,
        served_data=g.served.data,
        served_indices=g.served.indices,
        served_indptr=g.served.indptr,
        freq=g.freq,
        t0=g.t0,
        params=np.array([p.window, p.horizon, p.half_life, p.backward, p.top_n, p.buffer]),
        kind_weights=np.asarray(p.kind_weights),
    )


def load_item_graph(path: Path) -> ItemGraph:
    with np.load(path) as z:
        w, horizon, half_life, backward, top_n, buffer = (float(v) for v in z["params"])
        params = ItemGraphParams(
            int(w),
            horizon,
            half_life,
            backward,
            tuple(float(v) for v in z["kind_weights"]),
            int(top_n),
            int(buffer),
        )
        n = len(z["freq"])
        g = ItemGraph(n, params, float(z["t0"]))
        g.counts = sp.csr_matrix(
            (z["counts_data"], z["counts_indices"], z["counts_indptr"]), shape=(n, n)
        )
        g.served = sp.csr_matrix(
            (z["served_data"], z["served_indices"], z["served_indptr"]), shape=(n, n)
        )
        g.freq = z["freq"].astype(np.float64)
    return g
