"""The look-alike source on a hand-made catalog: it proposes what resembles the last items, the
most recent weighing most, never an item of the context, and nothing without its table."""

from __future__ import annotations

import asyncio

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import KIND_PURCHASE, History, RequestContext
from engine.core.retrieval.content import ContentSimilarity
from engine.serving.sources.content import ContentSource
from tests.engine.fixtures import catalog, item

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


def _fetch(source: ContentSource, ctx: RequestContext, k: int = 10) -> list[int]:
    return asyncio.run(source.fetch(ctx, k)).rows.tolist()


def test_look_alikes_of_the_last_item_come_first() -> None:
    source = ContentSource(TABLE)
    assert _fetch(source, _ctx(2, 0))[:2] == [1, 3]  # like 0 (weight 1), then like 2 (1/2)
    assert _fetch(source, _ctx(0, 2))[:2] == [3, 1]
    assert 1 not in _fetch(source, _ctx(1, 0))  # in the context: never proposed


def test_only_the_last_items_count_and_k_cuts() -> None:
    assert _fetch(ContentSource(TABLE, last=1), _ctx(2, 0)) == [1]
    assert _fetch(ContentSource(TABLE), _ctx(2, 0), k=1) == [1]


def test_without_a_table_or_a_known_item_it_proposes_nothing() -> None:
    assert _fetch(ContentSource(None), _ctx(0)) == []
    assert _fetch(ContentSource(TABLE), _ctx(99)) == []  # an item added after the build
    assert _fetch(ContentSource(TABLE), _ctx()) == []
    assert ContentSource.surfaces == frozenset({Surface.feed})
