"""Item-to-item tables queried with the last items, on hand-made data: ``sequence`` proposes
what followed the last items, ``content`` what resembles them; the most recent weighs most,
an item of the context is never proposed, and nothing comes without a table."""

from __future__ import annotations

import asyncio

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import KIND_PURCHASE, History, RequestContext
from engine.core.retrieval.content import ContentSimilarity
from engine.core.retrieval.covisitation import CovisitationIndex, CovisParams
from engine.serving.sources.last_items import LastItemsSource
from tests.engine.fixtures import catalog, item

# sessions: 0 -> 1, 2 -> 3, 1 -> 4 -> 5
SESS = np.array([0, 0, 1, 1, 2, 2, 2])
ITEMS = np.array([0, 1, 2, 3, 1, 4, 5])
TS = np.arange(7, dtype=np.float64)
NEXT = CovisitationIndex.build(
    SESS, ITEMS, TS, np.ones(7), 6, CovisParams(window=1, backward_weight=0.0, normalize="none")
)

CAT = catalog(
    [
        item(0, title="red running shoe", brand="fleet"),
        item(1, title="blue running shoe", brand="fleet"),
        item(2, title="ceramic vase", brand="casa"),
        item(3, title="ceramic vase stand", brand="casa"),
    ]
)
TABLE = ContentSimilarity.build(CAT.tokens, CAT.attributes, len(CAT))


def _ctx(*rows: int) -> RequestContext:
    n = len(rows)
    session = History(np.array(rows, np.int64), np.full(n, KIND_PURCHASE, np.int8), np.arange(n))
    return RequestContext("r", Surface.feed, 100.0, session=session)


def _fetch(source: LastItemsSource, ctx: RequestContext, k: int = 10) -> list[int]:
    return asyncio.run(source.fetch(ctx, k)).rows.tolist()


def test_sequence_what_followed_the_last_item_comes_first() -> None:
    source = LastItemsSource("sequence", NEXT)
    assert _fetch(source, _ctx(2, 0)) == [1, 3]  # after 0: 1 (weight 1); after 2: 3 (1/2)
    assert _fetch(source, _ctx(0, 2)) == [3, 1]  # now 2 is the last
    assert _fetch(source, _ctx(1)) == [4]  # 0 never follows 1: nothing backwards
    assert _fetch(source, _ctx(0, 1)) == [4]  # 1 is in the context: never proposed


def test_sequence_only_the_last_items_count_and_k_cuts() -> None:
    assert _fetch(LastItemsSource("sequence", NEXT, last=1), _ctx(2, 0)) == [1]
    assert _fetch(LastItemsSource("sequence", NEXT), _ctx(2, 0), k=1) == [1]


def test_sequence_without_a_table_or_a_known_item_it_proposes_nothing() -> None:
    assert _fetch(LastItemsSource("sequence", None), _ctx(0)) == []
    assert _fetch(LastItemsSource("sequence", NEXT), _ctx(99)) == []  # added after the build
    assert _fetch(LastItemsSource("sequence", NEXT), _ctx()) == []
    assert LastItemsSource.surfaces == frozenset({Surface.feed})


def test_content_look_alikes_of_the_last_item_come_first() -> None:
    source = LastItemsSource("content", TABLE)
    assert _fetch(source, _ctx(2, 0))[:2] == [1, 3]  # like 0 (weight 1), then like 2 (1/2)
    assert _fetch(source, _ctx(0, 2))[:2] == [3, 1]
    assert 1 not in _fetch(source, _ctx(1, 0))  # in the context: never proposed


def test_content_only_the_last_items_count_and_k_cuts() -> None:
    assert _fetch(LastItemsSource("content", TABLE, last=1), _ctx(2, 0)) == [1]
    assert _fetch(LastItemsSource("content", TABLE), _ctx(2, 0), k=1) == [1]


def test_content_without_a_table_or_a_known_item_it_proposes_nothing() -> None:
    assert _fetch(LastItemsSource("content", None), _ctx(0)) == []
    assert _fetch(LastItemsSource("content", TABLE), _ctx(99)) == []  # added after the build
    assert _fetch(LastItemsSource("content", TABLE), _ctx()) == []
    assert LastItemsSource.surfaces == frozenset({Surface.feed})
