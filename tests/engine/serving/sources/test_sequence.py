"""The next-item source on hand-made sequences: it proposes what followed the last items, the
most recent weighing most, never an item of the context, and nothing without its table."""

from __future__ import annotations

import asyncio

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import KIND_PURCHASE, History, RequestContext
from engine.core.retrieval.covisitation import CovisitationIndex, CovisParams
from engine.serving.sources.sequence import SequenceSource

# sessions: 0 -> 1, 2 -> 3, 1 -> 4 -> 5
SESS = np.array([0, 0, 1, 1, 2, 2, 2])
ITEMS = np.array([0, 1, 2, 3, 1, 4, 5])
TS = np.arange(7, dtype=np.float64)
NEXT = CovisitationIndex.build(
    SESS, ITEMS, TS, np.ones(7), 6, CovisParams(window=1, backward_weight=0.0, normalize="none")
)


def _ctx(*rows: int) -> RequestContext:
    n = len(rows)
    session = History(np.array(rows, np.int64), np.full(n, KIND_PURCHASE, np.int8), np.arange(n))
    return RequestContext("r", Surface.feed, 100.0, session=session)


def _fetch(source: SequenceSource, ctx: RequestContext, k: int = 10) -> list[int]:
    return asyncio.run(source.fetch(ctx, k)).rows.tolist()


def test_what_followed_the_last_item_comes_first() -> None:
    source = SequenceSource(NEXT)
    assert _fetch(source, _ctx(2, 0)) == [1, 3]  # after 0: 1 (weight 1); after 2: 3 (1/2)
    assert _fetch(source, _ctx(0, 2)) == [3, 1]  # now 2 is the last
    assert _fetch(source, _ctx(1)) == [4]  # 0 never follows 1: nothing backwards
    assert _fetch(source, _ctx(0, 1)) == [4]  # 1 is in the context: never proposed


def test_only_the_last_items_count_and_k_cuts() -> None:
    assert _fetch(SequenceSource(NEXT, last=1), _ctx(2, 0)) == [1]
    assert _fetch(SequenceSource(NEXT), _ctx(2, 0), k=1) == [1]


def test_without_a_table_or_a_known_item_it_proposes_nothing() -> None:
    assert _fetch(SequenceSource(None), _ctx(0)) == []
    assert _fetch(SequenceSource(NEXT), _ctx(99)) == []  # an item added after the build
    assert _fetch(SequenceSource(NEXT), _ctx()) == []
    assert SequenceSource.surfaces == frozenset({Surface.feed})
