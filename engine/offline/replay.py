"""The logged history the offline jobs learn from: behavioural signals before a time, and the
replay of logged requests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, cast

import numpy as np

from engine.core.catalog import Catalog
from engine.core.retrieval.content import ContentSimilarity
from engine.core.retrieval.covisitation import CovisitationIndex, CoVisits, CovisParams
from engine.core.signals import DAY, KIND_WEIGHT, Signals
from ltr.logs import LoggedRequest, LogReplay, sample_in_time_order
from synth.dataset import SynthDataset

#: How held-out and training requests are replayed from an interaction log (the dataset's
#: ``meta["requests"]``): ``basket`` asks at a session's second item for the rest of it
#: (:meth:`LogReplay.interaction_requests`); ``next_item`` asks, per visitor, for their next
#: interaction (:meth:`LogReplay.next_item_requests`; sequences such as Amazon Beauty).
RequestKind = Literal["basket", "next_item"]


def request_kind(meta: dict[str, Any]) -> RequestKind:
    kind = meta.get("requests", "basket")
    if kind not in ("basket", "next_item"):
        raise ValueError(f"meta.json: requests {kind!r} is not 'basket' or 'next_item'")
    return cast(RequestKind, kind)


def ranker_feature_time(meta: dict[str, Any]) -> float:
    """Signals and models that feed ranker features during ranker training end here: the
    dataset's ``feature_ts`` when it sets one (leave-one-out: before each visitor's
    second-to-last interaction), else 60% of the way from the first event to the split."""
    if meta.get("feature_ts") is not None:
        return float(meta["feature_ts"])
    start, split = float(meta["start"]), float(meta["split_ts"])
    return start + 0.6 * (split - start)


#: the symmetric table: items acted on within 5 events of each other in a session
SYMMETRIC = CovisParams(window=10, gap_decay=0.8, top_n=300)
#: the sequential one: the next 3 items, nearer ones weighing more, and a little backwards
SEQUENTIAL = CovisParams(window=3, backward_weight=0.3, gap_decay=0.5, normalize="none", top_n=200)
#: the basket one: items of a session up to 200 events apart (a whole basket, but for the
#: largest), in any order, raw weights (what is bought with an item, popular partners first),
#: halved every 30 days: baskets repeat slowly
BASKET = CovisParams(window=200, normalize="none", top_n=300, half_life=30 * DAY)


def build_signals(
    ds: SynthDataset,
    catalog: Catalog,
    until: float,
    content: ContentSimilarity | None = None,
) -> tuple[Signals, CoVisits]:
    """Popularity (also by audience: anonymous or signed-in shoppers), CTR and the
    co-visitation tables from the events before ``until`` (events weighted by kind, halved
    every 14 days before ``until`` unless the table's parameters say otherwise)."""
    ev = ds.events
    before = ev["ts"] < until
    anonymous = ds.users["segment"][ev["user"][before]] == 0  # no user id
    signals = Signals.build(
        ev["ts"][before],
        ev["item"][before],
        ev["kind"][before],
        catalog.category.values,
        until,
        anonymous=anonymous,
    )
    act = before & (ev["kind"] >= 1) & (ev["kind"] <= 3)
    columns = (
        ev["session"][act],
        ev["item"][act],
        ev["ts"][act],
        KIND_WEIGHT[ev["kind"][act]].astype(np.float32),
        len(catalog),
    )

    def table(params: CovisParams) -> CovisitationIndex:
        timed = replace(params, half_life=params.half_life or 14 * DAY, reference_time=until)
        return CovisitationIndex.build(*columns, timed)

    return signals, CoVisits(table(SYMMETRIC), table(SEQUENTIAL), content, table(BASKET))


def log_replay(ds: SynthDataset) -> LogReplay:
    return LogReplay(ds.events, ds.users["segment"], ds.users["user_ids"], ds.queries)


def logged_requests(
    replay: LogReplay,
    t0: float,
    t1: float,
    *,
    max_requests: int | None,
    seed: int,
    kind: RequestKind = "basket",
    every_prefix: bool = False,
) -> list[LoggedRequest]:
    """The requests of ``[t0, t1)`` with a positive: the served pages when the log has them,
    else requests replayed from interactions (feed requests as ``kind`` says, and a search
    request for each logged query the session then acted on), ``max_requests`` drawn from
    them all. ``next_item`` with ``every_prefix``: one feed request at each interaction
    rather than at each visitor's first, the examples a model trained on whole sequences
    needs."""
    if replay.has_impressions:
        return replay.requests(t0, t1, max_requests=max_requests, seed=seed)
    if kind == "next_item":
        feed = replay.next_item_requests(t0, t1, seed=seed, every=every_prefix)
    else:
        feed = replay.interaction_requests(t0, t1, seed=seed)
    search = replay.search_requests(t0, t1, seed=seed, first_id=len(feed))
    return sample_in_time_order(feed + search, max_requests, seed)


def held_out(
    ds: SynthDataset, *, max_requests: int, seed: int
) -> tuple[LogReplay, list[LoggedRequest]]:
    """The replay and the logged requests after the split, as every evaluation reads them."""
    replay = log_replay(ds)
    split, end = float(ds.meta["split_ts"]), float(ds.meta["end"])
    reqs = logged_requests(
        replay, split, end + 1, max_requests=max_requests, seed=seed, kind=request_kind(ds.meta)
    )
    return replay, reqs
