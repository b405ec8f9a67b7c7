"""Which rules a request meets: every query kind, surfaces, segments, category context, time
windows, priority order; the index finds what a scan of every rule finds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from engine.core.contracts import Surface
from engine.core.rules.model import Rule, RuleBody
from engine.core.rules.pattern import required_literal
from engine.serving.rules.ruleset import Compiled, RuleSet, normalise

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC).timestamp()


def rule(rid: str, query: dict[str, str] | None = None, priority: int = 0, **match: Any) -> Rule:
    m: dict[str, Any] = dict(match)
    if query is not None:
        m["query"] = query
    return Rule(id=rid, name=rid, priority=priority, match=m, actions={"hide": ["x"]})


def ids(
    rs: RuleSet,
    query: str,
    surface: Surface = Surface.search,
    segment: int = 2,
    categories: tuple[str, ...] = (),
    now: float = NOW,
) -> list[str]:
    return [r.id for r in rs.match(surface, query, segment, categories, now)]


def test_query_kinds() -> None:
    rs = RuleSet(
        [
            rule("exact", {"kind": "exact", "value": "Red Dress"}),
            rule("phrase", {"kind": "phrase", "value": "red dress"}),
            rule("contains", {"kind": "contains", "value": "dress red"}),
            rule("regex", {"kind": "regex", "value": r"^red\s+dress(es)?$"}),
        ]
    )
    assert normalise("  RÉD,  dress!! ") == "red dress"
    assert set(ids(rs, "red dress")) == {"exact", "phrase", "contains", "regex"}
    assert set(ids(rs, "Red dresses")) == {"regex"}
    assert set(ids(rs, "long red dress")) == {"phrase", "contains"}
    assert set(ids(rs, "dress in red")) == {"contains"}
    assert ids(rs, "blue dress") == []


def test_context_conditions_and_priority() -> None:
    day = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}
    later = {"start": "2026-12-10T00:00:00Z", "end": "2026-12-11T00:00:00Z"}
    rs = RuleSet(
        [
            rule("low", {"kind": "contains", "value": "tv"}, priority=1),
            rule("high", {"kind": "contains", "value": "tv"}, priority=9),
            rule("feed-only", surfaces=["feed"]),
            rule("anon", {"kind": "contains", "value": "tv"}, segments=["anonymous"]),
            rule("in-window", {"kind": "contains", "value": "tv"}, windows=[day]),
            rule("not-yet", {"kind": "contains", "value": "tv"}, windows=[later]),
            rule("electronics", categories=["Electronics"]),
        ]
    )
    assert ids(rs, "tv") == ["high", "low", "in-window"]  # by priority, then oldest change
    assert "anon" in ids(rs, "tv", segment=0)
    assert ids(rs, "", surface=Surface.feed) == ["feed-only"]
    assert ids(rs, "", Surface.feed, categories=("Electronics/TV",)) == ["electronics", "feed-only"]
    assert "electronics" not in ids(rs, "", Surface.feed, categories=("Electronicsx",))


def test_the_index_finds_what_a_scan_finds() -> None:
    rng = np.random.default_rng(0)
    words = ["red", "blue", "dress", "shoe", "tv", "phone", "case", "cotton", "lamp"]
    kinds = ["exact", "phrase", "contains", "regex"]
    rules = []
    for i in range(400):
        kind = kinds[i % 4]
        w = list(rng.choice(words, size=2, replace=False))
        value = {"regex": f"{w[0]}.*{w[1]}"}.get(kind, " ".join(w))
        rules.append(rule(f"r{i}", {"kind": kind, "value": value}))
    rs = RuleSet(rules)
    compiled = [Compiled.of(r) for r in rules]
    for _ in range(300):
        q = " ".join(rng.choice(words, size=int(rng.integers(1, 4))))
        qn = normalise(q)
        words_q = qn.split()
        scan = {c.rule.id for c in compiled if c.query_matches(qn, words_q, frozenset(words_q))}
        assert set(ids(rs, q)) == scan, q


def test_required_literal_of_a_regex() -> None:
    assert required_literal(r"^colou?r tv") == "colo"  # "u?" breaks the run
    assert required_literal(r"iphone\s*1[0-9]") == "iphone"
    assert required_literal(r"(a|b)c") == ""  # nothing of three characters: tried always


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"match": {"query": {"kind": "regex", "value": "a(("}}}, "match.query"),
        ({"match": {"surfaces": []}}, "match.surfaces"),
        (
            {"actions": {"boosts": [{"attribute": "brand", "min": 3, "weight": 1}]}},
            "actions.boosts.0",
        ),
        (
            {"actions": {"boosts": [{"attribute": "price", "value": "x", "weight": 1}]}},
            "actions.boosts.0",
        ),
        (
            {"actions": {"boosts": [{"attribute": "price", "min": 5, "weight": 0}]}},
            "actions.boosts.0.weight",
        ),
        (
            {
                "actions": {
                    "pins": [{"item_id": "a", "position": 1}, {"item_id": "b", "position": 1}]
                }
            },
            "actions.pins",
        ),
        ({"actions": {"redirect": "javascript:alert(1)"}}, "actions.redirect"),
    ],
)
def test_invalid_rules_name_the_field(body: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {"name": "n", "actions": {"hide": ["x"]}}
    for key, value in body.items():
        base[key] = {**base.get(key, {}), **value}
    with pytest.raises(ValidationError) as err:
        RuleBody.model_validate(base)
    locs = [".".join(str(p) for p in e["loc"]) for e in err.value.errors()]
    assert any(loc.startswith(field) for loc in locs), locs
