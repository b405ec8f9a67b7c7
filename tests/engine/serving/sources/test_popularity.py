"""Popularity candidate sources on a small catalog with hand-made events: global popular and
trending lists skip what the user saw and keep k; the context source serves an anonymous
session the popular items of the leaf categories it touched, shared by recency."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from engine.core.contracts import Surface
from engine.core.pipeline.context import (
    KIND_CART,
    KIND_CLICK,
    KIND_PURCHASE,
    KIND_VIEW,
    History,
    RequestContext,
)
from engine.core.signals import DAY, Signals
from engine.serving.sources.popularity import ContextCategorySource, PopularSource
from tests.engine.fixtures import T0, catalog, item

PHONES, CASES = ("Electronics", "Phones"), ("Electronics", "Phones", "Cases")
DECOR, KITCHEN = ("Home", "Decor"), ("Home", "Kitchen")
CAT = catalog(
    [
        item(0, category=PHONES),
        item(1, category=PHONES),
        item(2, category=PHONES),
        item(3, category=DECOR),
        item(4, category=DECOR),
        item(5, category=KITCHEN),
        item(6, category=CASES),
        item(7, category=DECOR),
        item(8, category=DECOR),
    ]
)
NOW = (T0 + timedelta(days=30)).timestamp()
# (row, kind, age in days)
EVENTS = (
    [(0, KIND_PURCHASE, 20.0)] * 10  # heavy but old: most popular, cooling down
    + [(1, KIND_PURCHASE, 0.04)]  # heating up: the most trending
    + [(2, KIND_CLICK, 0.01)]
    + [(3, KIND_CART, 0.01)]
    + [(4, KIND_CLICK, 3.0)] * 2
    + [(6, KIND_VIEW, 0.01)] * 5  # views carry no popularity
)  # rows 5, 7, 8: no events
POPULAR_ORDER = [0, 1, 3, 4, 2, 5, 6, 7, 8]  # ties (5 to 8 at zero) by row
TRENDING_ORDER = [1, 3, 2, 4, 5, 6, 7, 8, 0]  # no events: a neutral trend of 1; row 0 below it


def signals() -> Signals:
    rows = np.array([r for r, _, _ in EVENTS], np.int32)
    kinds = np.array([k for _, k, _ in EVENTS], np.int8)
    ts = np.array([NOW - age * DAY for _, _, age in EVENTS], np.float64)
    return Signals.build(ts, rows, kinds, CAT.category.values, NOW)


SIGNALS = signals()


def history(*rows: int) -> History:
    """Interactions with ``rows``, oldest first."""
    n = len(rows)
    ts = NOW - 60.0 * np.arange(n, 0, -1, dtype=np.float64)
    return History(np.array(rows, np.int64), np.full(n, KIND_CLICK, np.int8), ts)


def feed(
    session: History | None = None, user: History | None = None, user_id: str | None = None
) -> RequestContext:
    return RequestContext(
        "r",
        Surface.feed,
        NOW,
        user_id=user_id,
        session=session or History.empty(),
        user_history=user or History.empty(),
    )


# -- PopularSource -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["popular", "trending"])
def test_popular_sources_serve_the_feed_only_under_their_kinds_name(kind: str) -> None:
    src = PopularSource(SIGNALS, kind)  # type: ignore[arg-type]
    assert src.name == kind
    assert src.surfaces == frozenset({Surface.feed})
    assert Surface.search not in src.surfaces


def test_the_signals_order_items_as_the_events_say() -> None:
    """The fixture itself: the orders the source tests below rely on."""
    assert np.argsort(-SIGNALS.popular, kind="stable").tolist() == POPULAR_ORDER
    assert np.argsort(-SIGNALS.trending, kind="stable").tolist() == TRENDING_ORDER


async def test_popular_lists_items_by_decayed_popularity_with_their_scores() -> None:
    res = await PopularSource(SIGNALS, "popular").fetch(feed(), 4)
    assert res.source == "popular"
    assert res.rows.tolist() == [0, 1, 3, 4]
    np.testing.assert_array_equal(res.scores, SIGNALS.popular[[0, 1, 3, 4]])
    assert np.all(np.diff(res.scores) < 0)


async def test_trending_puts_the_item_heating_up_above_the_old_favourite() -> None:
    res = await PopularSource(SIGNALS, "trending").fetch(feed(), 9)
    assert res.source == "trending"
    assert res.rows.tolist() == TRENDING_ORDER
    np.testing.assert_array_equal(res.scores, SIGNALS.trending[TRENDING_ORDER])
    assert res.rows[0] == 1 and res.rows[-1] == 0  # most popular (row 0) trends the least


@pytest.mark.parametrize("k", [0, 1, 3])
async def test_popular_returns_the_first_k(k: int) -> None:
    res = await PopularSource(SIGNALS, "popular").fetch(feed(), k)
    assert res.rows.tolist() == POPULAR_ORDER[:k]
    assert len(res.scores) == k


async def test_k_beyond_the_catalog_returns_every_item_once() -> None:
    res = await PopularSource(SIGNALS, "popular").fetch(feed(), 50)
    assert res.rows.tolist() == POPULAR_ORDER


async def test_popular_skips_what_the_session_and_the_user_saw_and_still_fills_k() -> None:
    ctx = feed(session=history(0), user=history(1, 3), user_id="u")
    res = await PopularSource(SIGNALS, "popular").fetch(ctx, 3)
    assert res.rows.tolist() == [4, 2, 5]
    np.testing.assert_array_equal(res.scores, SIGNALS.popular[[4, 2, 5]])


async def test_trending_skips_seen_items_of_an_anonymous_session() -> None:
    res = await PopularSource(SIGNALS, "trending").fetch(feed(session=history(1, 2)), 2)
    assert res.rows.tolist() == [3, 4]


# -- ContextCategorySource -----------------------------------------------------------------------


def test_the_context_source_serves_the_feed_only() -> None:
    src = ContextCategorySource(SIGNALS, CAT)
    assert src.name == "popular_in_context"
    assert src.surfaces == frozenset({Surface.feed})


async def test_without_session_or_history_there_is_no_context() -> None:
    res = await ContextCategorySource(SIGNALS, CAT).fetch(feed(), 10)
    assert res.source == "popular_in_context"
    assert len(res.rows) == 0 and len(res.scores) == 0


async def test_an_anonymous_session_gets_popular_items_of_the_leaf_it_touched() -> None:
    res = await ContextCategorySource(SIGNALS, CAT).fetch(feed(session=history(2)), 10)
    # the other phones by popularity; not the touched one, not the Cases leaf below Phones
    assert res.rows.tolist() == [0, 1]
    np.testing.assert_allclose(res.scores, SIGNALS.popular[[0, 1]])


async def test_categories_share_the_list_by_how_recently_they_were_touched() -> None:
    # Decor (row 3) then Phones (row 2, the latest): weights 1/2 and 1, shares 1/3 and 2/3
    res = await ContextCategorySource(SIGNALS, CAT).fetch(feed(session=history(3, 2)), 10)
    assert res.rows.tolist() == [0, 1, 4, 7, 8]  # 7 and 8 have no popularity: last
    expected = SIGNALS.popular[[0, 1, 4, 7, 8]] * np.array([2, 2, 1, 1, 1]) / 3
    np.testing.assert_allclose(res.scores, expected, rtol=1e-6)
    assert np.all(np.diff(res.scores) <= 0)


async def test_a_category_touched_more_often_outweighs_a_more_recent_one() -> None:
    # Decor three times (1/2 + 1/3 + 1/4 = 13/12), then Phones once, the latest (1)
    session = history(3, 4, 7, 2)
    res = await ContextCategorySource(SIGNALS, CAT).fetch(feed(session=session), 10)
    assert res.rows.tolist() == [0, 1, 8]
    expected = SIGNALS.popular[[0, 1, 8]] * np.array([12, 12, 13]) / 25
    np.testing.assert_allclose(res.scores, expected, rtol=1e-6)
    heaviest = ContextCategorySource(SIGNALS, CAT, max_categories=1)
    assert (await heaviest.fetch(feed(session=session), 10)).rows.tolist() == [8]


async def test_the_user_history_is_context_too() -> None:
    ctx = feed(user=history(3), user_id="u")
    res = await ContextCategorySource(SIGNALS, CAT).fetch(ctx, 10)
    assert res.rows.tolist() == [4, 7, 8]


async def test_k_limits_the_context_list() -> None:
    res = await ContextCategorySource(SIGNALS, CAT).fetch(feed(session=history(3, 2)), 1)
    assert res.rows.tolist() == [0]


async def test_max_categories_keeps_the_heaviest_categories() -> None:
    src = ContextCategorySource(SIGNALS, CAT, max_categories=1)
    res = await src.fetch(feed(session=history(3, 2)), 10)
    assert res.rows.tolist() == [0, 1]  # Phones only: Decor weighed less
    np.testing.assert_allclose(res.scores, SIGNALS.popular[[0, 1]])  # the whole share


async def test_recent_limits_the_interactions_that_set_the_context() -> None:
    src = ContextCategorySource(SIGNALS, CAT, recent=1)
    res = await src.fetch(feed(session=history(3, 5)), 10)
    assert res.rows.tolist() == []  # Kitchen (the latest) has no other item; Decor not counted
    res = await src.fetch(feed(session=history(5, 3)), 10)
    assert res.rows.tolist() == [4, 7, 8]
