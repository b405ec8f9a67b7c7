"""What a merchandiser writes: a rule is a condition (query text, surface, segment, category
context, time windows) and actions (pins, boosts and buries by attribute, filters, hides,
synonyms, a query rewrite, a redirect). Validation here names the field that is wrong; checks
that need the catalog (unknown pinned items) are in :mod:`engine.serving.rules.store`."""

from __future__ import annotations

import itertools
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator, model_validator

from engine.core.contracts import ItemId, Strict, Surface
from engine.core.rules.pattern import compile_pattern

MAX_PIN_POSITION = 100  # the largest page a request can ask for (contracts.page_size)
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$", description="rule id")]
STORED = {"stored": True}
"""Validation context of rules read back from the control store: their regular expressions are
not compiled again here, so a stored rule that RE2 cannot compile (one written when patterns were
Python's) still loads, lists, and can be fixed, rolled back or deleted; the rule set
(:class:`engine.serving.rules.ruleset.RuleSet`) compiles it and skips it with a warning."""


class QueryKind(StrEnum):
    exact = "exact"  # the normalised query equals the value
    phrase = "phrase"  # the value's words appear in the query, in order, adjacent
    contains = "contains"  # every word of the value appears in the query, any order
    regex = "regex"  # an RE2 regular expression searched in the normalised query


class QueryMatch(Strict):
    kind: QueryKind
    value: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _compiles(self, info: ValidationInfo) -> QueryMatch:
        if self.kind == QueryKind.regex:
            if not (isinstance(info.context, dict) and info.context.get("stored")):
                compile_pattern(self.value)  # PatternError (a ValueError) says why not
        elif not any(c.isalnum() or c == "_" for c in self.value):
            raise ValueError("value has no letters or digits")
        return self


class Window(Strict):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end is not after start")
        return self


class Match(Strict):
    query: QueryMatch | None = None  # None: any request (browse rules: feed, category pages)
    surfaces: list[Surface] = Field(default_factory=lambda: [Surface.search, Surface.feed])
    segments: list[Literal["anonymous", "weak", "heavy"]] | None = None  # None: every segment
    categories: list[str] | None = Field(None, max_length=50)  # the request's category context
    windows: list[Window] = Field(default_factory=list, max_length=50)  # empty: always

    @field_validator("surfaces")
    @classmethod
    def _some_surface(cls, v: list[Surface]) -> list[Surface]:
        if not v:
            raise ValueError("no surface: a rule acts on search, feed or both")
        return v

    @field_validator("windows")
    @classmethod
    def _disjoint(cls, v: list[Window]) -> list[Window]:
        ordered = sorted(v, key=lambda w: w.start)
        for a, b in itertools.pairwise(ordered):
            if b.start < a.end:
                raise ValueError(
                    f"windows overlap: {a.start.isoformat()}..{a.end.isoformat()} and "
                    f"{b.start.isoformat()}..{b.end.isoformat()}"
                )
        return v


class Attribute(StrEnum):
    brand = "brand"
    category = "category"  # a category path prefix
    seller_rating = "seller_rating"  # the seller's half-star bucket (aggregated form only)
    price = "price"


class AttributeMatch(Strict):
    """``brand``/``category``: ``value``; ``seller_rating``/``price``: ``min`` and/or ``max``."""

    attribute: Attribute
    value: str | None = Field(None, min_length=1, max_length=200)
    min: float | None = Field(None, ge=0)
    max: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _shape(self) -> AttributeMatch:
        textual = self.attribute in (Attribute.brand, Attribute.category)
        if textual and (self.value is None or self.min is not None or self.max is not None):
            raise ValueError(f"{self.attribute.value} takes a value, not min/max")
        if not textual:
            if self.value is not None or (self.min is None and self.max is None):
                raise ValueError(f"{self.attribute.value} takes min and/or max, not a value")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError("min is greater than max")
        return self


class Boost(AttributeMatch):
    """Moves matching items up (``weight`` > 0) or down (< 0: a bury) by ``weight`` on the
    ranked list's scores normalised to [0, 1]: a weight of 1 puts them above every item that
    does not match."""

    weight: float = Field(ge=-1, le=1)

    @field_validator("weight")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("weight 0 changes nothing")
        return v


class Pin(Strict):
    item_id: ItemId
    position: int = Field(ge=1, le=MAX_PIN_POSITION, description="1-based place on the list")


class Actions(Strict):
    pins: list[Pin] = Field(default_factory=list, max_length=MAX_PIN_POSITION)
    boosts: list[Boost] = Field(default_factory=list, max_length=20)
    filters: list[AttributeMatch] = Field(default_factory=list, max_length=10)  # keep only
    hide: list[ItemId] = Field(default_factory=list, max_length=1000)
    synonyms: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    rewrite: str | None = Field(None, min_length=1, max_length=500)  # the query searched instead
    redirect: str | None = Field(None, pattern=r"^(https?://|/)\S{0,2000}$")

    @model_validator(mode="after")
    def _does_something(self) -> Actions:
        if not (
            self.pins
            or self.boosts
            or self.filters
            or self.hide
            or self.synonyms
            or self.rewrite
            or self.redirect
        ):
            raise ValueError(
                "the rule does nothing: no pin, boost, filter, hide, synonym, rewrite or redirect"
            )
        return self

    @field_validator("pins")
    @classmethod
    def _distinct(cls, v: list[Pin]) -> list[Pin]:
        seen: dict[int, str] = {}
        for p in v:
            if p.position in seen:
                raise ValueError(
                    f"position {p.position} is pinned twice ({seen[p.position]}, {p.item_id})"
                )
            seen[p.position] = p.item_id
        if len({p.item_id for p in v}) < len(v):
            raise ValueError("an item is pinned twice")
        return v


class RuleBody(Strict):
    """A rule as written (create, update, preview draft)."""

    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(0, ge=-1000, le=1000, description="higher wins a conflict")
    enabled: bool = True
    match: Match = Field(default_factory=Match)
    actions: Actions

    @model_validator(mode="after")
    def _acts(self) -> RuleBody:
        a = self.actions
        search_only = a.synonyms or a.rewrite or a.redirect
        if search_only and Surface.search not in self.match.surfaces:
            raise ValueError("actions: synonyms, rewrite and redirect act on search only")
        if search_only and self.match.query is None:
            raise ValueError("match.query: synonyms, rewrite and redirect need a query match")
        return self


class Rule(RuleBody):
    id: RuleId
    revision: int = 0  # the audit sequence number of the change that wrote it
    updated_at: datetime | None = None
    updated_by: str | None = None
