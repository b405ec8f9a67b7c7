"""Matched rules resolved into one request's effects (:func:`effects_for`: conflicts go to the
higher-priority rule) and applied to the ranked list (:class:`RulesStage`: boosts and buries on
normalised scores, filters, hides, pins), with every change noted for explain."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import Ranked
from engine.core.rules.effects import PinAt, RuleEffects
from engine.core.rules.model import AttributeMatch, Boost, Rule
from engine.serving.rules.apply import RulesStage, attribute_mask, effects_for
from ltr.aggregates import ItemAggregates
from tests.engine.fixtures import catalog, item

PHONES, CASES = ("Electronics", "Phones"), ("Electronics", "Phones", "Cases")
DECOR = ("Home", "Decor")


# Row i is item "i{i}" (the catalog assigns rows in order).
CAT = catalog(
    [
        item(0, brand="nova", category=PHONES, price=300, seller="big", seller_rating=4.3),
        item(1, brand="zen", category=PHONES, price=200, seller="small", seller_rating=4.9),
        item(2, brand="shield", category=CASES, price=20, seller="big", seller_order_count=100),
        item(3, brand="casa", category=DECOR, price=40, seller="small", seller_order_count=3),
        item(4, brand="nova", category=DECOR, price=60),
        item(5, brand="acme", category=("Electronicsx", "Misc"), price=5),
    ]
)
AGGS = ItemAggregates.build(CAT, min_support=20)  # "small" has too few orders for a rating
STAGE = RulesStage(CAT, lambda: AGGS)
QUERY = {"query": {"kind": "contains", "value": "phone"}}


def rule(rid: str, priority: int = 0, match: dict[str, Any] | None = None, **actions: Any) -> Rule:
    return Rule(id=rid, name=rid, priority=priority, match=match or {}, actions=actions)


def pin(item_id: str, position: int) -> dict[str, Any]:
    return {"item_id": item_id, "position": position}


def boost(weight: float, **match: Any) -> Boost:
    return Boost(weight=weight, **match)


def flt(**match: Any) -> AttributeMatch:
    return AttributeMatch(**match)


def ranked(
    order: list[int], pool_rows: int = 6, scale: float = 1.0
) -> tuple[CandidatePool, Ranked]:
    """A pool of rows ``0..pool_rows-1`` (pool index == row) ranked in ``order``, scores
    falling evenly from ``scale`` to 0 along it; rows left out of ``order`` were dropped by an
    earlier re-ranker."""
    rows = np.arange(pool_rows, dtype=np.int64)
    pool = CandidatePool.merge(
        [SourceResult("s", rows, np.ones(pool_rows, np.float32))], ("s",), 1000
    )
    scores = np.zeros(pool_rows, np.float32)
    scores[order] = np.linspace(scale, 0, len(order))
    return pool, Ranked(np.array(order, np.int64), scores, {})


def apply(
    fx: RuleEffects | None,
    order: list[int] | None = None,
    *,
    explain: bool = True,
    pool_rows: int = 6,
    scale: float = 1.0,
) -> Ranked:
    pool, before = ranked(list(range(pool_rows)) if order is None else order, pool_rows, scale)
    ctx = RequestContext("r", Surface.search, 0.0, query="phone", explain=explain, rules=fx)
    return STAGE.rerank(ctx, pool, before)


def rows_of(out: Ranked) -> list[int]:
    return [int(i) for i in out.order]  # pool index == row in these tests


# -- effects_for: resolving the matched rules ---------------------------------------------------


def test_no_matched_rule_has_no_effects() -> None:
    assert effects_for([], CAT, "phone") is None


def test_applied_lists_every_matched_rule_in_priority_order() -> None:
    fx = effects_for([rule("high", 5, hide=["i0"]), rule("low", 1, hide=["i1"])], CAT, "q")
    assert fx is not None
    assert fx.applied == ("high", "low")


def test_the_highest_priority_rewrite_wins_and_is_noted() -> None:
    rules = [
        rule("high", 9, QUERY, rewrite="smartphone"),
        rule("low", 1, QUERY, rewrite="mobile phone"),
    ]
    fx = effects_for(rules, CAT, "fone")
    assert fx is not None
    assert fx.rewrite == ("smartphone", "high")
    assert fx.notes == ("rule high: query 'fone' rewritten to 'smartphone'",)


def test_a_lower_rule_rewrites_when_the_higher_ones_do_not() -> None:
    rules = [rule("high", 9, QUERY, synonyms=["mobile"]), rule("low", 1, QUERY, rewrite="phone")]
    fx = effects_for(rules, CAT, "fone")
    assert fx is not None
    assert fx.rewrite == ("phone", "low")


def test_the_highest_priority_redirect_wins() -> None:
    rules = [rule("high", 9, QUERY, redirect="/sale"), rule("low", 1, QUERY, redirect="/other")]
    fx = effects_for(rules, CAT, "phone")
    assert fx is not None
    assert fx.redirect == ("/sale", "high")
    assert fx.notes == ("rule high: redirect to /sale",)


def test_synonyms_of_every_rule_are_added_once_each() -> None:
    rules = [
        rule("a", 2, QUERY, synonyms=["mobile", "cellphone"]),
        rule("b", 1, QUERY, synonyms=["cellphone", "handset"]),
        rule("c", 0, QUERY, synonyms=["mobile"]),
    ]
    fx = effects_for(rules, CAT, "phone")
    assert fx is not None
    assert fx.synonyms == ("mobile", "cellphone", "handset")
    assert fx.notes == (
        "rule a: synonyms mobile, cellphone added to the text search",
        "rule b: synonyms handset added to the text search",
    )  # nothing new from c: no note


def test_filters_and_boosts_of_every_rule_are_kept_with_their_rule() -> None:
    rules = [
        rule("a", 2, filters=[{"attribute": "brand", "value": "nova"}]),
        rule(
            "b",
            1,
            filters=[{"attribute": "price", "max": 100}],
            boosts=[{"attribute": "category", "value": "Home", "weight": 0.5}],
        ),
    ]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert [(f.attribute.value, rid) for f, rid in fx.filters] == [("brand", "a"), ("price", "b")]
    assert [(b.weight, rid) for b, rid in fx.boosts] == [(0.5, "b")]


def test_hides_map_known_rows_to_their_rule_and_skip_unknown_items() -> None:
    fx = effects_for([rule("h", hide=["i1", "nope", "i4"])], CAT, "")
    assert fx is not None
    assert fx.hides == {1: "h", 4: "h"}


def test_an_item_hidden_by_a_higher_rule_is_not_pinned_by_a_lower_one() -> None:
    rules = [rule("high", 9, hide=["i3"]), rule("low", 1, pins=[pin("i3", 1)])]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert fx.hides == {3: "high"}
    assert fx.pins == ()


def test_an_item_pinned_by_a_higher_rule_is_not_hidden_by_a_lower_one() -> None:
    rules = [rule("high", 9, pins=[pin("i3", 2)]), rule("low", 1, hide=["i3", "i4"])]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert fx.pins == (PinAt(2, 3, "i3", "high"),)
    assert fx.hides == {4: "low"}


def test_a_position_pinned_twice_goes_to_the_higher_rule_and_the_loss_is_noted() -> None:
    rules = [rule("high", 9, pins=[pin("i3", 1)]), rule("low", 1, pins=[pin("i4", 1)])]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert fx.pins == (PinAt(1, 3, "i3", "high"),)
    assert fx.notes == ("rule low: pin of i4 at 1 lost to rule high",)


def test_an_item_pinned_at_two_positions_takes_the_higher_rules_position() -> None:
    rules = [rule("high", 9, pins=[pin("i3", 4)]), rule("low", 1, pins=[pin("i3", 1)])]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert fx.pins == (PinAt(4, 3, "i3", "high"),)


def test_pins_of_several_rules_come_sorted_by_position() -> None:
    rules = [
        rule("a", 9, pins=[pin("i5", 3), pin("i4", 1)]),
        rule("b", 1, pins=[pin("i2", 2)]),
    ]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert [(p.position, p.item_id, p.rule_id) for p in fx.pins] == [
        (1, "i4", "a"),
        (2, "i2", "b"),
        (3, "i5", "a"),
    ]
    assert fx.pinned_rows.tolist() == [4, 2, 5]


def test_a_pin_of_an_unknown_item_does_not_take_its_position() -> None:
    rules = [rule("high", 9, pins=[pin("gone", 1)]), rule("low", 1, pins=[pin("i2", 1)])]
    fx = effects_for(rules, CAT, "")
    assert fx is not None
    assert fx.pins == (PinAt(1, 2, "i2", "low"),)


# -- attribute_mask ------------------------------------------------------------------------------

ALL = np.arange(6, dtype=np.int64)


def mask(m: AttributeMatch, rows: np.ndarray = ALL) -> list[bool]:
    return [bool(b) for b in attribute_mask(m, rows, CAT, AGGS)]


def test_brand_mask_matches_the_brand_and_an_unknown_brand_matches_nothing() -> None:
    assert mask(flt(attribute="brand", value="nova")) == [True, False, False, False, True, False]
    assert mask(flt(attribute="brand", value="no-such-brand")) == [False] * 6


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Electronics", [0, 1, 2]),  # not "Electronicsx": whole path segments only
        ("Electronics/Phones", [0, 1, 2]),  # a deeper leaf is inside its parent
        ("Electronics/Phones/Cases", [2]),
        ("Home/", [3, 4]),  # surrounding slashes do not matter
        ("Home/Dec", []),
    ],
)
def test_category_mask_matches_path_prefixes(value: str, expected: list[int]) -> None:
    got = attribute_mask(flt(attribute="category", value=value), ALL, CAT, AGGS)
    assert np.flatnonzero(got).tolist() == expected


def test_price_mask_bounds_are_inclusive() -> None:
    assert mask(flt(attribute="price", min=40, max=200)) == [False, True, False, True, True, False]
    assert mask(flt(attribute="price", max=20)) == [False, False, True, False, False, True]


def test_seller_rating_mask_reads_the_aggregated_bucket_and_unrated_never_match() -> None:
    # "big" (4.3 over 100 orders) is in the 4.5 bucket; "small" (3 orders) and s1 have no bucket
    assert mask(flt(attribute="seller_rating", min=4.5)) == [True, False, True] + [False] * 3
    assert mask(flt(attribute="seller_rating", max=5)) == [True, False, True] + [False] * 3


def test_mask_follows_the_order_of_the_rows_given() -> None:
    rows = np.array([4, 1, 0], np.int64)
    assert mask(flt(attribute="brand", value="nova"), rows) == [True, False, True]


# -- RulesStage ----------------------------------------------------------------------------------


def test_no_rules_or_request_level_rules_only_leave_the_ranking_alone() -> None:
    pool, before = ranked([5, 4, 3, 2, 1, 0])
    for fx in (None, RuleEffects(applied=("r",), synonyms=("mobile",), rewrite=("x", "r"))):
        ctx = RequestContext("r", Surface.search, 0.0, explain=True, rules=fx)
        assert STAGE.rerank(ctx, pool, before) is before


def test_a_boost_moves_matching_items_up_by_its_weight_on_normalised_scores() -> None:
    # normalised scores along 0..5: 1, .8, .6, .4, .2, 0; casa (row 3): .4 + .5 = .9
    out = apply(RuleEffects(boosts=((boost(0.5, attribute="brand", value="casa"), "b"),)))
    assert rows_of(out) == [0, 3, 1, 2, 4, 5]


def test_a_boost_does_not_depend_on_the_scale_of_the_rankers_scores() -> None:
    fx = RuleEffects(boosts=((boost(0.5, attribute="brand", value="casa"), "b"),))
    assert rows_of(apply(fx, scale=1000.0)) == [0, 3, 1, 2, 4, 5]


def test_a_full_weight_boost_lifts_a_mid_list_item_to_the_top() -> None:
    out = apply(RuleEffects(boosts=((boost(1, attribute="category", value="Home"), "b"),)))
    assert rows_of(out) == [3, 4, 0, 1, 2, 5]  # 1.4, 1.2, then the rest in their order


def test_a_full_weight_boost_puts_even_the_last_item_above_every_other() -> None:
    out = apply(RuleEffects(boosts=((boost(1, attribute="brand", value="acme"), "b"),)))
    assert rows_of(out)[0] == 5


def test_a_bury_moves_matching_items_down() -> None:
    # nova is rows 0 (1 - .5 = .5) and 4 (.2 - .5 = -.3)
    out = apply(RuleEffects(boosts=((boost(-0.5, attribute="brand", value="nova"), "b"),)))
    assert rows_of(out) == [1, 2, 0, 3, 5, 4]


def test_boosts_of_several_rules_add_up() -> None:
    fx = RuleEffects(
        boosts=(
            (boost(0.35, attribute="price", max=50), "cheap"),
            (boost(0.35, attribute="category", value="Home"), "home"),
        )
    )
    # row 3 is both (.4 + .7); row 2 cheap (.6 + .35); row 4 home (.2 + .35); row 5 cheap
    assert rows_of(apply(fx)) == [3, 0, 2, 1, 4, 5]


def test_filters_keep_only_matching_items_in_their_order() -> None:
    fx = RuleEffects(filters=((flt(attribute="category", value="Electronics"), "f"),))
    out = apply(fx, [2, 5, 0, 3, 1, 4])
    assert rows_of(out) == [2, 0, 1]
    assert out.notes[5] == ["rule f: filtered out (category=Electronics)"]


def test_filters_of_several_rules_must_all_match() -> None:
    fx = RuleEffects(
        filters=(
            (flt(attribute="category", value="Electronics"), "a"),
            (flt(attribute="price", max=250), "b"),
        )
    )
    out = apply(fx)
    assert rows_of(out) == [1, 2]
    assert out.notes[0] == ["rule b: filtered out (price in [, 250.0])"]
    assert out.notes[3] == ["rule a: filtered out (category=Electronics)"]  # noted once


def test_hides_remove_items_and_are_noted() -> None:
    out = apply(RuleEffects(hides={1: "h", 4: "h"}))
    assert rows_of(out) == [0, 2, 3, 5]
    assert out.notes[1] == ["rule h: hidden"]


def test_a_pin_puts_its_item_at_its_one_based_position() -> None:
    out = apply(RuleEffects(pins=(PinAt(3, 5, "i5", "p"),)))
    assert rows_of(out) == [0, 1, 5, 2, 3, 4]
    assert out.notes[5] == ["rule p: pinned at 3"]


def test_several_pins_each_land_at_their_position() -> None:
    fx = RuleEffects(pins=(PinAt(1, 4, "i4", "p"), PinAt(3, 5, "i5", "p")))
    assert rows_of(apply(fx)) == [4, 0, 5, 1, 2, 3]


def test_a_pin_past_the_end_of_the_list_goes_last() -> None:
    out = apply(RuleEffects(pins=(PinAt(50, 0, "i0", "p"),)), [0, 1, 2])
    assert rows_of(out) == [1, 2, 0]


def test_a_pin_brings_back_an_item_an_earlier_reranker_dropped() -> None:
    out = apply(RuleEffects(pins=(PinAt(1, 4, "i4", "p"),)), [0, 1, 2])  # 4 is in the pool
    assert rows_of(out) == [4, 0, 1, 2]


def test_a_pinned_item_missing_from_the_pool_is_not_shown() -> None:
    out = apply(RuleEffects(pins=(PinAt(1, 5, "i5", "p"),)), [0, 1, 2], pool_rows=5)
    assert rows_of(out) == [0, 1, 2]


def test_pins_are_placed_after_the_boosts() -> None:
    fx = RuleEffects(
        boosts=((boost(1, attribute="brand", value="casa"), "b"),),
        pins=(PinAt(1, 5, "i5", "p"),),
    )
    assert rows_of(apply(fx)) == [5, 3, 0, 1, 2, 4]


def test_resolved_conflicts_show_on_the_list() -> None:
    rules = [
        rule("high", 9, hide=["i2"], pins=[pin("i5", 1)]),
        rule("low", 1, pins=[pin("i2", 2), pin("i4", 1)], hide=["i5", "i0"]),
    ]
    fx = effects_for(rules, CAT, "")
    out = apply(fx)
    # i5: pinned by high, not hidden by low; i2: hidden by high, not pinned by low;
    # i4: its position went to high's pin, so it stays where the ranker put it; i0 hidden by low
    assert rows_of(out) == [5, 1, 3, 4]
    assert out.notes[2] == ["rule high: hidden"]
    assert out.notes[0] == ["rule low: hidden"]


def test_boosts_and_buries_are_noted_when_explaining() -> None:
    fx = RuleEffects(
        boosts=(
            (boost(0.5, attribute="brand", value="casa"), "up"),
            (boost(-0.25, attribute="price", min=250), "down"),
        )
    )
    out = apply(fx)
    assert out.notes[3] == ["rule up: boost +0.5 (brand=casa)"]
    assert out.notes[0] == ["rule down: bury -0.25 (price in [250.0, ])"]
    assert 1 not in out.notes


def test_boost_notes_are_not_built_without_explain() -> None:
    fx = RuleEffects(boosts=((boost(0.5, attribute="brand", value="casa"), "up"),))
    out = apply(fx, explain=False)
    assert rows_of(out) == [0, 3, 1, 2, 4, 5]
    assert out.notes == {}


def test_notes_of_earlier_stages_are_kept_and_not_modified() -> None:
    pool, before = ranked([0, 1, 2, 3])
    earlier = {1: ["diversity: moved"], 3: ["cap"]}
    before = Ranked(before.order, before.scores, earlier)
    ctx = RequestContext("r", Surface.feed, 0.0, explain=True, rules=RuleEffects(hides={1: "h"}))
    out = STAGE.rerank(ctx, pool, before)
    assert out.notes[1] == ["diversity: moved", "rule h: hidden"]
    assert out.notes[3] == ["cap"]
    assert earlier == {1: ["diversity: moved"], 3: ["cap"]}
