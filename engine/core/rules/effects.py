"""What merchandising rules do to one request: the value the pipeline carries in its request
context (:attr:`RequestContext.rules`). The rules that match a request are resolved into it by
:mod:`engine.serving.rules.apply`; :meth:`RequestContext.with_rules` applies them
before retrieval."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.core.rules.model import Attribute, AttributeMatch, Boost
from engine.core.search import SearchFilter


@dataclass(frozen=True, slots=True)
class PinAt:
    position: int  # 1-based
    row: int
    item_id: str
    rule_id: str


@dataclass(frozen=True, slots=True)
class RuleEffects:
    applied: tuple[str, ...] = ()  # ids of the rules that matched, highest priority first
    notes: tuple[str, ...] = ()  # request-level changes, for explain
    rewrite: tuple[str, str] | None = None  # (query, rule id)
    synonyms: tuple[str, ...] = ()
    redirect: tuple[str, str] | None = None  # (url, rule id)
    filters: tuple[tuple[AttributeMatch, str], ...] = ()
    boosts: tuple[tuple[Boost, str], ...] = ()
    hides: dict[int, str] = field(default_factory=dict)  # row -> rule id
    pins: tuple[PinAt, ...] = ()

    @property
    def pinned_rows(self) -> npt.NDArray[np.int64]:
        return np.array([p.row for p in self.pins], np.int64)


def narrowed(flt: SearchFilter, filters: Sequence[tuple[AttributeMatch, str]]) -> SearchFilter:
    brands, cats = flt.brands, flt.categories
    lo, hi = flt.price_min, flt.price_max
    for f, _ in filters:
        if f.attribute == Attribute.brand and flt.brands is None:
            brands = (*(brands or ()), f.value or "")
        elif f.attribute == Attribute.category and flt.categories is None:
            cats = (*(cats or ()), f.value or "")
        elif f.attribute == Attribute.price and flt.price_min is None and flt.price_max is None:
            # every rule's price filter holds after the ranker: retrieval asks for all of them
            if f.min is not None:
                lo = f.min if lo is None else max(lo, f.min)
            if f.max is not None:
                hi = f.max if hi is None else min(hi, f.max)
    return dataclasses.replace(flt, brands=brands, categories=cats, price_min=lo, price_max=hi)
