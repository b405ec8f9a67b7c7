"""What matched rules do to a request before retrieval: :class:`RuleEffects` (pins, pinned rows),
:func:`narrowed` (rule filters narrow brand, category and price only where the request leaves
that attribute open) and :meth:`RequestContext.with_rules` (rewrite, synonyms, filters)."""

from __future__ import annotations

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import RequestContext
from engine.core.rules.effects import PinAt, RuleEffects, narrowed
from engine.core.rules.model import AttributeMatch
from engine.core.search import SearchFilter


def brand(value: str) -> AttributeMatch:
    return AttributeMatch(attribute="brand", value=value)


def category(value: str) -> AttributeMatch:
    return AttributeMatch(attribute="category", value=value)


def price(lo: float | None = None, hi: float | None = None) -> AttributeMatch:
    return AttributeMatch(attribute="price", min=lo, max=hi)


def ctx(query: str = "phone", flt: SearchFilter | None = None) -> RequestContext:
    return RequestContext(
        request_id="r",
        surface=Surface.search,
        now=0.0,
        query=query,
        filters=flt or SearchFilter(),
    )


def test_pinned_rows_are_the_rows_of_the_pins_in_pin_order() -> None:
    fx = RuleEffects(pins=(PinAt(1, 7, "i7", "a"), PinAt(3, 2, "i2", "b")))
    rows = fx.pinned_rows
    assert rows.dtype == np.int64
    assert rows.tolist() == [7, 2]


def test_no_pins_give_an_empty_int64_array() -> None:
    rows = RuleEffects().pinned_rows
    assert rows.dtype == np.int64 and rows.shape == (0,)


def test_rule_filters_narrow_an_unconstrained_request() -> None:
    flt = narrowed(
        SearchFilter(),
        [(brand("nova"), "r1"), (category("Electronics/Phones"), "r1"), (price(10, 50), "r2")],
    )
    assert flt.brands == ("nova",)
    assert flt.categories == ("Electronics/Phones",)
    assert (flt.price_min, flt.price_max) == (10, 50)


def test_the_request_keeps_its_own_constraint_on_an_attribute_it_sets() -> None:
    own = SearchFilter(brands=("zen",), categories=("Home",), price_min=5.0)
    flt = narrowed(
        own, [(brand("nova"), "r"), (category("Electronics"), "r"), (price(10, 50), "r")]
    )
    assert flt.brands == ("zen",)
    assert flt.categories == ("Home",)
    # a request bound on price (even one side only) leaves both sides to the request
    assert (flt.price_min, flt.price_max) == (5.0, None)


def test_each_attribute_is_narrowed_independently_of_the_others() -> None:
    flt = narrowed(
        SearchFilter(brands=("zen",), price_max=80.0),
        [(brand("nova"), "r"), (category("Home/Decor"), "r"), (price(lo=10), "r")],
    )
    assert flt.brands == ("zen",)  # the request's
    assert flt.categories == ("Home/Decor",)  # the rule's: the request left it open
    assert (flt.price_min, flt.price_max) == (None, 80.0)  # the request's


def test_several_brand_or_category_filters_accumulate_in_rule_order() -> None:
    flt = narrowed(
        SearchFilter(),
        [(brand("nova"), "a"), (brand("zen"), "b"), (category("Home"), "a"), (category("X"), "b")],
    )
    assert flt.brands == ("nova", "zen")
    assert flt.categories == ("Home", "X")


def test_a_one_sided_price_filter_leaves_the_other_side_open() -> None:
    assert narrowed(SearchFilter(), [(price(lo=20), "r")]).price_max is None
    assert narrowed(SearchFilter(), [(price(hi=20), "r")]).price_min is None
    assert narrowed(SearchFilter(), [(price(lo=20), "r")]).price_min == 20


def test_seller_rating_filters_do_not_narrow_retrieval() -> None:
    rating = AttributeMatch(attribute="seller_rating", min=4.0)
    own = SearchFilter(in_stock=True, exclude_ids=frozenset({"i1"}))
    assert narrowed(own, [(rating, "r")]) == own


def test_fields_rules_do_not_touch_are_kept() -> None:
    own = SearchFilter(in_stock=True, exclude_ids=frozenset({"i1", "i2"}))
    flt = narrowed(own, [(brand("nova"), "r")])
    assert flt.in_stock is True
    assert flt.exclude_ids == frozenset({"i1", "i2"})


def test_two_price_filters_narrow_retrieval_to_what_both_keep() -> None:
    flt = narrowed(SearchFilter(), [(price(10, 50), "high"), (price(hi=100), "low")])
    assert flt.price_min == 10
    assert flt.price_max == 50


def test_with_rules_searches_the_rewritten_query() -> None:
    fx = RuleEffects(applied=("r",), rewrite=("smartphone", "r"))
    out = ctx("fone").with_rules(fx)
    assert out.query == "smartphone"


def test_with_rules_keeps_the_query_without_a_rewrite() -> None:
    out = ctx("fone").with_rules(RuleEffects(applied=("r",), synonyms=("phone",)))
    assert out.query == "fone"


def test_with_rules_turns_synonyms_into_query_expansions() -> None:
    fx = RuleEffects(applied=("r",), synonyms=("cellphone", "mobile"))
    out = ctx().with_rules(fx)
    assert out.query_expansions == ("cellphone", "mobile")


def test_with_rules_narrows_the_filters_and_carries_the_effects() -> None:
    fx = RuleEffects(
        applied=("r",),
        filters=((brand("nova"), "r"), (category("Electronics"), "r")),
        pins=(PinAt(1, 3, "i3", "r"),),
    )
    out = ctx(flt=SearchFilter(categories=("Home",), in_stock=True)).with_rules(fx)
    assert out.filters.brands == ("nova",)
    assert out.filters.categories == ("Home",)  # the request's own category constraint stays
    assert out.filters.in_stock is True
    assert out.rules is fx
    assert out.rules.pinned_rows.tolist() == [3]


def test_with_rules_leaves_the_original_request_unchanged() -> None:
    before = ctx("fone")
    fx = RuleEffects(
        applied=("r",),
        rewrite=("phone", "r"),
        synonyms=("mobile",),
        filters=((brand("nova"), "r"),),
    )
    after = before.with_rules(fx)
    assert after is not before
    assert before.query == "fone"
    assert before.query_expansions == ()
    assert before.filters == SearchFilter()
    assert before.rules is None
    assert (after.request_id, after.surface, after.page_size) == ("r", Surface.search, 20)
