"""Cold start for new items: a category-popularity prior seeded into the online store when an
item is ingested, live evidence added on top as events arrive, read back by the ``new_arrivals``
source. The same object serves requests, takes ingest and events, and replays logs offline
(:mod:`engine.offline.cold_start_replay`), so the ranker trains on the scores it is served.

Store layout: one time-decayed popularity scope for all new items (``new``) and one per root
category (``new:<root>``). At ingest an item younger than the window gets its prior, the mean
decayed popularity of the items of its leaf category (at least a tenth of the catalog mean),
dated at its creation, seeded once (``only_new``: replays and restarts add nothing). A click,
cart or purchase on a young item adds its weight to both scopes. With the store's six-hour
half-life, a new item's score is::

    (prior(category) * 2 ** (-age / 6 h) + decayed evidence) * smoothed_ctr / 0.05

so among items nobody has touched the younger and the one of the more popular category come
first, evidence lifts an item, and one shown often without a click (live impression and click
counters, Beta-smoothed) sinks. Reading drops items past the window or deleted from the scope;
seeding trims each scope to ``keep`` items, which bounds its memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog
from engine.core.online_store import (
    Bump,
    OnlineStore,
    Recorded,
    StoreUnavailable,
    smoothed_ctr,
)
from engine.core.signals import DAY, KIND_WEIGHT, Signals

log = logging.getLogger("shopnow.cold_start")
ALL_NEW = "new"
PRIOR_CTR = 0.05  # smoothed_ctr's prior: the multiplier is 1 for an item never impressed
FLOOR = 0.1  # a category with no behaviour gets a tenth of the catalog mean


def root_scope(root: str) -> str:
    return f"{ALL_NEW}:{root}"


class ColdStart:
    def __init__(
        self,
        catalog: Catalog,
        signals: Signals,
        store: OnlineStore,
        window_s: float = 3 * DAY,
        keep: int = 20_000,
    ) -> None:
        self.catalog, self.signals, self.store = catalog, signals, store
        self.window_s = window_s
        self.keep = keep  # items per scope
        self._prior_key: tuple[float, int, int] | None = None
        self._cat_prior = np.zeros(0, np.float32)
        self._global_prior = 1.0
        self._unseeded: set[int] = set()  # rows whose seeding met an unavailable store

    # -- priors -----------------------------------------------------------------------------
    def priors(self, rows: I64) -> F32:
        """Each row's prior: the mean popularity of its leaf category in the signals snapshot,
        at least ``FLOOR`` times the catalog mean."""
        self._refresh_priors()
        cats = self.catalog.category.values[rows].astype(np.int64)
        out = np.full(len(rows), self._global_prior * FLOOR, np.float32)
        known = (cats >= 0) & (cats < len(self._cat_prior))
        out[known] = np.maximum(out[known], self._cat_prior[cats[known]])
        return out

    def _refresh_priors(self) -> None:
        sig = self.signals
        key = (sig.built_at, sig.covered, len(self.catalog.categories))
        if key == self._prior_key:
            return
        n = min(sig.covered, len(self.catalog), len(sig.popular))
        cats = self.catalog.category.values[:n].astype(np.int64)
        ok = cats >= 0
        size = len(self.catalog.categories)
        total = np.bincount(cats[ok], weights=sig.popular[:n][ok], minlength=size)
        count = np.bincount(cats[ok], minlength=size)
        self._cat_prior = (total / np.maximum(count, 1)).astype(np.float32)
        mean = float(total.sum() / max(1, count.sum()))
        self._global_prior = mean if mean > 0 else 1.0
        self._prior_key = key

    def _young(self, rows: I64, now: float) -> I64:
        cat = self.catalog
        age = now - cat.created_at.values[rows]
        young: I64 = rows[(age >= 0) & (age < self.window_s) & ~cat.deleted.values[rows]]
        return young

    def _scopes(self, row: int) -> tuple[str, str]:
        root = int(self.catalog.root_category.values[row])
        return ALL_NEW, root_scope(self.catalog.roots.name(root))

    @property
    def waiting(self) -> int:
        """Items whose prior waits for the store to come back."""
        return len(self._unseeded)

    # -- writes -----------------------------------------------------------------------------
    async def admit(self, rows: I64, now: float) -> int:
        """Seed the prior of the rows younger than the window at ``now`` (ingest, start,
        replay); returns how many were seeded or already held. An unavailable store is
        logged and retried with the next call; the worker does not wait on it."""
        if self._unseeded:
            rows = np.union1d(rows, np.fromiter(self._unseeded, np.int64, len(self._unseeded)))
        rows = self._young(np.asarray(rows, np.int64), now)
        if len(rows) == 0:
            return 0
        created = self.catalog.created_at.values[rows].tolist()
        bumps: list[Bump] = []
        scopes: set[str] = set()
        for r, p, t in zip(rows.tolist(), self.priors(rows).tolist(), created, strict=True):
            item = self.catalog.ids[r]
            for scope in self._scopes(r):
                bumps.append(Bump(scope, item, p, t))
                scopes.add(scope)
        try:
            await self.store.bump(bumps, only_new=True)
            for scope in sorted(scopes):
                await self.store.trim(scope, self.keep)
        except StoreUnavailable as exc:
            log.warning("cold-start priors of %d items wait for the store: %s", len(rows), exc)
            self._unseeded.update(rows.tolist())
            return 0
        self._unseeded.clear()
        return len(rows)

    def evidence(self, recs: Sequence[Recorded]) -> list[Bump]:
        """Bumps for interactions on items still in their window (the caller sends them)."""
        cat = self.catalog
        out = []
        for r in recs:
            i = r.interaction
            row = cat.row_of.get(i.item_id)
            w = float(KIND_WEIGHT[i.kind])
            if row is None or w <= 0:
                continue
            age = i.ts - float(cat.created_at.values[row])
            if 0 <= age < self.window_s:
                out += [Bump(s, i.item_id, w, i.ts) for s in self._scopes(row)]
        return out

    # -- reads ------------------------------------------------------------------------------
    async def top(self, roots: Sequence[int], k: int, now: float) -> tuple[I64, F32]:
        """The ``k`` best new items of the root categories ``roots`` (all new items when
        empty), by score (see the module docstring)."""
        cat = self.catalog
        names = [root_scope(cat.roots.name(r)) for r in roots] or [ALL_NEW]
        ids: list[str] = []
        scores: list[float] = []
        for scope in names:
            got = await self.store.top(scope, 2 * k, now)
            gone = []
            for item, score in got:
                row = cat.row_of.get(item)
                age = -1.0 if row is None else now - float(cat.created_at.values[row])
                if row is None or cat.deleted.values[row] or age >= self.window_s:
                    gone.append(item)
                elif age >= 0:  # created "in the future" (a scheduled launch): not yet
                    ids.append(item)
                    scores.append(score)
            if gone:
                await self.store.remove(scope, gone)
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        imp, clk = await self.store.counts(ids)
        mult = [smoothed_ctr(c, m) / PRIOR_CTR for c, m in zip(clk, imp, strict=True)]
        rows = np.fromiter((cat.row_of[i] for i in ids), np.int64, len(ids))
        s = np.asarray(scores, np.float64) * np.asarray(mult, np.float64)
        rows, first = np.unique(rows, return_index=True)  # an item is in one root only
        s = s[first]
        order = np.lexsort((rows, -s))[:k]
        return rows[order], s[order].astype(np.float32)
