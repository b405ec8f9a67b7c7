"""Time-decayed popularity: global, per category, and trending.

With event weights ``w_e`` and ages ``a_e = reference_time - ts_e``::

    pop_h(i)   = sum_{e on i} w_e * 0.5 ** (a_e / h)          (decayed popularity, half-life h)
    trend(i)   = (pop_short(i) + alpha) / (pop_long(i) * short / long + alpha)

``pop_long * short / long`` is what ``pop_short`` would be if the item's event rate had been
constant, so ``trend`` is about 1 for a steady item and grows when it is heating up; ``alpha``
(pseudo-events) keeps rare items from topping the list on one or two events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, I64

Kind = Literal["popular", "trending"]


@dataclass(frozen=True, slots=True)
class PopularityParams:
    half_life: float | None = None
    short_half_life: float = 1.0
    long_half_life: float = 14.0
    alpha: float = 5.0
    reference_time: float | None = None


def _decayed(
    items: I64,
    w: npt.NDArray[np.float64],
    age: npt.NDArray[np.float64],
    half_life: float | None,
    n_items: int,
) -> npt.NDArray[np.float64]:
    ww = w if half_life is None else w * np.exp2(-age / half_life)
    return np.bincount(items, weights=ww, minlength=n_items).astype(np.float64)


class PopularityIndex:
    """Item scores (``popular``, ``trending``) with sorted global and per-category lists."""

    def __init__(self, popular: F32, trending: F32, categories: I64 | None = None) -> None:
        if len(popular) != len(trending):
            raise ValueError("popular and trending must have one score per item")
        self.scores: dict[Kind, F32] = {
            "popular": np.asarray(popular, dtype=np.float32),
            "trending": np.asarray(trending, dtype=np.float32),
        }
        self.categories = None if categories is None else np.asarray(categories, dtype=np.int64)
        self._order = {k: np.lexsort((np.arange(len(v)), -v)) for k, v in self.scores.items()}
        self._cat_order: dict[Kind, tuple[I64, I64]] = {}
        if self.categories is not None:
            cats = self.categories
            n_cats = int(cats.max()) + 1 if len(cats) else 0
            for kind, v in self.scores.items():
                order = np.lexsort((np.arange(len(v)), -v, cats))
                indptr = np.zeros(n_cats + 1, dtype=np.int64)
                np.cumsum(np.bincount(cats, minlength=n_cats), out=indptr[1:])
                self._cat_order[kind] = (indptr, order.astype(np.int64))

    @property
    def n_items(self) -> int:
        return len(self.scores["popular"])

    @classmethod
    def build(
        cls,
        items: npt.ArrayLike,
        ts: npt.ArrayLike,
        weights: npt.ArrayLike,
        n_items: int,
        params: PopularityParams | None = None,
        categories: npt.ArrayLike | None = None,
    ) -> PopularityIndex:
        p = params or PopularityParams()
        it = np.asarray(items, dtype=np.int64)
        t = np.asarray(ts, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        ref = (float(t.max()) if len(t) else 0.0) if p.reference_time is None else p.reference_time
        age = ref - t
        pop = _decayed(it, w, age, p.half_life, n_items)
        short = _decayed(it, w, age, p.short_half_life, n_items)
        long = _decayed(it, w, age, p.long_half_life, n_items)
        trend = (short + p.alpha) / (long * (p.short_half_life / p.long_half_life) + p.alpha)
        cats = None if categories is None else np.asarray(categories, dtype=np.int64)
        return cls(pop.astype(np.float32), trend.astype(np.float32), cats)

    def top(
        self, k: int, *, kind: Kind = "popular", exclude: npt.NDArray[np.bool_] | None = None
    ) -> tuple[I64, F32]:
        """Best ``k`` items overall; ``exclude`` is a boolean mask over items."""
        return self._take(self._order[kind], kind, k, exclude)

    def top_in_category(
        self,
        category: int,
        k: int,
        *,
        kind: Kind = "popular",
        exclude: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[I64, F32]:
        if kind not in self._cat_order:
            raise ValueError("index was built without categories")
        indptr, order = self._cat_order[kind]
        if not 0 <= category < len(indptr) - 1:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return self._take(order[indptr[category] : indptr[category + 1]], kind, k, exclude)

    def _take(
        self, order: I64, kind: Kind, k: int, exclude: npt.NDArray[np.bool_] | None
    ) -> tuple[I64, F32]:
        if exclude is not None:
            # The first k + |excluded| entries always hold k survivors (if there are k).
            n = k + int(exclude.sum())
            order = order[:n][~exclude[order[:n]]]
        rows = order[:k].astype(np.int64)
        return rows, self.scores[kind][rows]

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "popular": self.scores["popular"],
            "trending": self.scores["trending"],
        }
        if self.categories is not None:
            arrays["categories"] = self.categories
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> PopularityIndex:
        with np.load(path) as z:
            cats = z["categories"] if "categories" in z.files else None
            return cls(z["popular"], z["trending"], cats)
