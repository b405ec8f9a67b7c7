"""Per-item behavioural signals built from event logs: popularity, trend, smoothed CTR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32
from engine.core.retrieval.popularity import PopularityIndex, PopularityParams

DAY = 86400.0
#: Weights of click, add-to-cart and purchase in popularity (indexed by event kind code).
KIND_WEIGHT = np.array([0.0, 1.0, 3.0, 6.0, 0.0], np.float64)
AUDIENCE_FILE = "audience.npy"


@dataclass
class Signals:
    popularity: PopularityIndex  # decayed weighted interactions, trending, per-category lists
    ctr: F32  # clicks / impressions with a Beta prior
    impressions: F32
    built_at: float
    covered: int = -1  # catalog rows the snapshot was built over; rows added later have no data
    #: decayed popularity among anonymous (row 0) and signed-in (row 1) shoppers' interactions,
    #: when the events said which; None: not built
    audience: F32 | None = None

    def __post_init__(self) -> None:
        if self.covered < 0:
            self.covered = len(self.ctr)

    @property
    def popular(self) -> F32:
        return self.popularity.scores["popular"]

    @property
    def trending(self) -> F32:
        return self.popularity.scores["trending"]

    @staticmethod
    def build(
        ts: npt.NDArray[np.float64],
        item: npt.NDArray[np.int32],
        kind: npt.NDArray[np.int8],
        categories: npt.NDArray[np.int32],
        now: float,
        half_life_days: float = 7.0,
        prior_ctr: float = 0.05,
        prior_weight: float = 20.0,
        anonymous: npt.NDArray[np.bool_] | None = None,
    ) -> Signals:
        """``anonymous`` (per event: whether the shopper had no user id) adds the popularity
        among each audience (:attr:`audience`)."""
        n_items = len(categories)
        keep = (ts <= now) & (item >= 0) & (item < n_items)
        ts, it, kind = ts[keep], item[keep].astype(np.int64), kind[keep]
        act = KIND_WEIGHT[kind] > 0
        params = PopularityParams(
            half_life=half_life_days * DAY,
            short_half_life=DAY,
            long_half_life=14 * DAY,
            reference_time=now,
        )
        pop = PopularityIndex.build(
            it[act], ts[act], KIND_WEIGHT[kind[act]], n_items, params, categories
        )
        imp = np.bincount(it[kind == 0], minlength=n_items).astype(np.float64)
        clk = np.bincount(it[kind == 1], minlength=n_items).astype(np.float64)
        ctr = (clk + prior_ctr * prior_weight) / (imp + prior_weight)
        audience = None
        if anonymous is not None:
            anon = np.asarray(anonymous, np.bool_)[keep][act]
            w = KIND_WEIGHT[kind[act]] * np.exp2(-(now - ts[act]) / (half_life_days * DAY))
            audience = np.stack(
                [
                    np.bincount(
                        it[act], weights=np.where(anon == (a == 0), w, 0.0), minlength=n_items
                    )
                    for a in (0, 1)
                ]
            ).astype(np.float32)
        return Signals(pop, ctr.astype(np.float32), imp.astype(np.float32), now, audience=audience)

    def resize(self, categories: npt.NDArray[np.int32]) -> None:
        """Cover new catalog rows: zero popularity, neutral trend, the median CTR."""
        n_items = len(categories)
        n = len(self.ctr)
        if n_items <= n:
            return
        pad = n_items - n
        prior = float(np.median(self.ctr)) if n else 0.05
        self.popularity = PopularityIndex(
            np.concatenate([self.popular, np.zeros(pad, np.float32)]),
            np.concatenate([self.trending, np.ones(pad, np.float32)]),
            categories.astype(np.int64),
        )
        self.ctr = np.concatenate([self.ctr, np.full(pad, prior, np.float32)])
        self.impressions = np.concatenate([self.impressions, np.zeros(pad, np.float32)])
        if self.audience is not None:
            self.audience = np.pad(self.audience, ((0, 0), (0, pad)))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.popularity.save(directory / "popularity.npz")
        np.savez(
            directory / "ctr.npz",
            ctr=self.ctr,
            impressions=self.impressions,
            built_at=np.float64(self.built_at),
            covered=np.int64(self.covered),
        )
        if self.audience is not None:
            np.save(directory / AUDIENCE_FILE, self.audience)

    @staticmethod
    def load(directory: Path) -> Signals:
        pop = PopularityIndex.load(directory / "popularity.npz")
        audience = None  # snapshots saved before it was built have none
        if (directory / AUDIENCE_FILE).exists():
            audience = np.load(directory / AUDIENCE_FILE).astype(np.float32)
        with np.load(directory / "ctr.npz") as z:
            covered = int(z["covered"]) if "covered" in z.files else len(z["ctr"])
            return Signals(
                pop,
                z["ctr"],
                z["impressions"],
                float(z["built_at"]),
                covered,
                audience,
            )
