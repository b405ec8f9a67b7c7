"""The logged history the offline jobs learn from: behavioural signals before a time, and the
replay of logged requests."""

from __future__ import annotations

import numpy as np

from engine.core.arrays import I64
from engine.core.catalog import Catalog
from engine.core.retrieval.covisitation import CovisitationIndex, CovisParams
from engine.core.signals import DAY, KIND_WEIGHT, Signals
from ltr.logs import LoggedRequest, LogReplay
from synth.dataset import SynthDataset


def ranker_feature_time(start: float, split: float) -> float:
    """Signals and models that feed ranker features during ranker training end here."""
    return start + 0.6 * (split - start)


def build_signals(
    ds: SynthDataset,
    catalog: Catalog,
    until: float,
) -> tuple[Signals, CovisitationIndex]:
    """Popularity, CTR and co-visitation from the events before ``until``."""
    ev = ds.events
    before = ev["ts"] < until
    signals = Signals.build(
        ev["ts"][before], ev["item"][before], ev["kind"][before], catalog.category.values, until
    )
    act = before & (ev["kind"] >= 1) & (ev["kind"] <= 3)
    covis = CovisitationIndex.build(
        ev["session"][act],
        ev["item"][act],
        ev["ts"][act],
        KIND_WEIGHT[ev["kind"][act]].astype(np.float32),
        len(catalog),
        CovisParams(window=5, half_life=14 * DAY, reference_time=until, top_n=100),
    )
    return signals, covis


def log_replay(ds: SynthDataset) -> LogReplay:
    return LogReplay(ds.events, ds.users["segment"], ds.users["user_ids"], ds.queries)


def logged_requests(
    replay: LogReplay, t0: float, t1: float, *, max_requests: int | None, seed: int
) -> list[LoggedRequest]:
    """The requests of ``[t0, t1)`` with a positive: the served pages when the log has them,
    else requests replayed from interactions (:meth:`LogReplay.interaction_requests`)."""
    if replay.has_impressions:
        return replay.requests(t0, t1, max_requests=max_requests, seed=seed)
    return replay.interaction_requests(t0, t1, max_requests=max_requests, seed=seed)


def held_out(
    ds: SynthDataset, *, max_requests: int, seed: int
) -> tuple[LogReplay, list[LoggedRequest]]:
    """The replay and the logged requests after the split, as every evaluation reads them."""
    replay = log_replay(ds)
    split, end = float(ds.meta["split_ts"]), float(ds.meta["end"])
    return replay, logged_requests(replay, split, end + 1, max_requests=max_requests, seed=seed)


def complement_pairs(ds: SynthDataset) -> tuple[I64, I64] | None:
    """(leaf category, its complement's leaf) by catalog row, when the data has them."""
    leaf, partner = ds.columns.get("category"), ds.truth.get("complement_of")
    return (leaf, partner) if leaf is not None and partner is not None else None
