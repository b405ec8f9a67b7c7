"""Compliance for restricted seller and pricing fields.

A restricted field (marked in :mod:`engine.core.contracts`) may reach a model only through a
declared
aggregation with a minimum support. :func:`check_feature_set` refuses any other use; training
calls it before fitting and serving calls it before loading an artifact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.core.contracts import restricted_fields


class ComplianceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Aggregation:
    name: str
    reads: frozenset[str]
    min_support: int
    description: str


def declared_aggregations(min_support: int) -> dict[str, Aggregation]:
    aggs = [
        Aggregation(
            "seller_rating_bucket",
            frozenset({"seller_rating", "seller_order_count"}),
            min_support,
            "seller rating rounded to 0.5, only over >= N orders",
        ),
        Aggregation(
            "category_margin_level",
            frozenset({"cost_price", "price"}),
            min_support,
            "tercile of the mean margin of the item's category, over >= N items",
        ),
        Aggregation(
            "price_percentile_in_category",
            frozenset({"price"}),
            1,
            "rank percentile of the price within its leaf category",
        ),
    ]
    return {a.name: a for a in aggs}


@dataclass(frozen=True, slots=True)
class FieldUse:
    """What a feature reads from the catalog: raw fields, and the aggregation it goes through."""

    feature: str
    reads: frozenset[str]
    via: str | None


def check_feature_set(
    uses: Iterable[FieldUse],
    aggregations: dict[str, Aggregation],
    restricted: frozenset[str] | None = None,
    min_support: int = 1,
) -> None:
    """Raise :class:`ComplianceError` naming every feature that uses a restricted field raw."""
    restricted = restricted_fields() if restricted is None else restricted
    problems: list[str] = []
    for u in uses:
        hit = u.reads & restricted
        if not hit:
            continue
        agg = aggregations.get(u.via) if u.via else None
        if agg is None:
            problems.append(
                f"feature {u.feature!r} reads restricted field(s) {sorted(hit)} "
                "without a declared aggregation"
            )
        elif not hit <= agg.reads:
            problems.append(
                f"feature {u.feature!r}: aggregation {agg.name!r} does not cover "
                f"{sorted(hit - agg.reads)}"
            )
        elif agg.min_support < min_support:
            problems.append(
                f"feature {u.feature!r}: aggregation {agg.name!r} has support "
                f"{agg.min_support} < required {min_support}"
            )
    if problems:
        raise ComplianceError("; ".join(problems))
