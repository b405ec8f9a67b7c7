"""Offline replay of the cold-start state: advances an online store through logged time, so
ranker training, evaluation and the decision report see the ``new_arrivals`` scores serving
would have had at each request. It goes through the same
:class:`~engine.serving.cold_start.ColdStart`
that ingest and ``POST /v1/events`` use: items are admitted when created, and the clicks, carts
and purchases, impressions and clicks logged before a request are its evidence and counters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from engine.core.online_store import Interaction, ItemCount, Recorded
from engine.core.signals import KIND_WEIGHT
from engine.serving.cold_start import ColdStart

KIND_IMPRESSION, KIND_CLICK = 0, 1


class ColdStartReplay:
    """``await replay.advance(t)`` before each request, ``t`` never decreasing."""

    def __init__(self, cold_start: ColdStart, events: Mapping[str, npt.NDArray[np.generic]]):
        self.cold = cold_start
        cat = cold_start.catalog
        created = cat.created_at.values[: len(cat)]
        self._by_created = np.argsort(created, kind="stable").astype(np.int64)
        self._created = created[self._by_created]
        ts = np.asarray(events["ts"], np.float64)
        item = np.asarray(events["item"], np.int64)
        kind = np.asarray(events["kind"], np.int64)
        ok = (item >= 0) & (item < len(cat))
        age = np.where(ok, ts - created[np.clip(item, 0, len(cat) - 1)], -1.0)
        # only events on items inside their window matter to cold start
        young = ok & (age >= 0) & (age < cold_start.window_s)
        young &= (kind == KIND_IMPRESSION) | (KIND_WEIGHT[np.clip(kind, 0, 4)] > 0)
        order = np.flatnonzero(young)[np.argsort(ts[young], kind="stable")]
        self._ts, self._item, self._kind = ts[order], item[order], kind[order]
        self._session = np.asarray(events["session"], np.int64)[order]
        self.t: float | None = None

    async def advance(self, t: float) -> None:
        if self.t is not None and t < self.t:
            raise ValueError(f"replay cannot go back in time ({t} < {self.t})")
        lo = t - self.cold.window_s if self.t is None else self.t
        a, b = np.searchsorted(self._created, [lo, t])
        if b > a:
            await self.cold.admit(self._by_created[a:b], t)
        a, b = np.searchsorted(self._ts, [lo, t])
        if b > a:
            await self._events(slice(int(a), int(b)))
        self.t = t

    async def _events(self, sl: slice) -> None:
        cat, store = self.cold.catalog, self.cold.store
        ts, item, kind = self._ts[sl], self._item[sl], self._kind[sl]
        act = kind != KIND_IMPRESSION
        recs = [
            Recorded(f"replay-{s}", None, Interaction(cat.ids[i], int(k), float(when)))
            for s, i, k, when in zip(
                self._session[sl][act].tolist(),
                item[act].tolist(),
                kind[act].tolist(),
                ts[act].tolist(),
                strict=True,
            )
        ]
        await store.bump(self.cold.evidence(recs))
        counted = (kind == KIND_IMPRESSION) | (kind == KIND_CLICK)
        rows, inv = np.unique(item[counted], return_inverse=True)
        imp = np.bincount(inv, weights=kind[counted] == KIND_IMPRESSION, minlength=len(rows))
        clk = np.bincount(inv, weights=kind[counted] == KIND_CLICK, minlength=len(rows))
        await store.count(
            [
                ItemCount(cat.ids[r], int(m), int(c))
                for r, m, c in zip(rows.tolist(), imp.tolist(), clk.tolist(), strict=True)
            ]
        )
