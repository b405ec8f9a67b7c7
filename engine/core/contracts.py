"""Data contracts at the boundaries (API, ingest records, logs), pydantic v2.

Fields marked ``restricted`` (seller and pricing data under compliance rules) may only reach a
model through a declared aggregation; see :mod:`ltr.compliance`.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

RESTRICTED: JsonDict = {"restricted": True}
_ID = r"^[A-Za-z0-9_.:\-]{1,128}$"
ItemId = Annotated[str, Field(pattern=_ID, description="catalog item id")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Availability(StrEnum):
    in_stock = "in_stock"
    out_of_stock = "out_of_stock"
    preorder = "preorder"
    discontinued = "discontinued"


# The largest item version. Indexes order writes of one id by ``3 x version + q`` (q <= 2,
# engine/core/search.py: write_order, delete_order) and OpenSearch external versions are
# signed 64-bit, so ``3 x MAX_VERSION + 2`` must fit in a signed 64-bit integer: a larger
# version would be accepted into the ingest log and then fail every index write.
MAX_VERSION = (2**63 - 1 - 2) // 3
# Prices are kept as float32 (and their logs are features): a smaller positive price would
# round to 0 there.
MIN_PRICE = 1e-4
# Item prices stay below this bound.
MAX_PRICE = 1e7
# Price filter bounds are compared with float32 prices in both backends (and OpenSearch takes
# only finite float bounds): they stay within float32's finite range.
MAX_FILTER_PRICE = 3.4028234663852886e38


class Item(Strict):
    """A catalog item as ingested. ``version`` orders updates: an older one never wins."""

    id: ItemId
    title: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=10_000)
    category_path: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=8, description="root-to-leaf category names"
    )
    brand: str = Field(min_length=1, max_length=200)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=64)
    price: float = Field(ge=MIN_PRICE, lt=MAX_PRICE)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    availability: Availability
    seller_id: str = Field(pattern=_ID)
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=0, le=MAX_VERSION)
    # Restricted: usable only through declared aggregations.
    seller_rating: float | None = Field(None, ge=0, le=5, json_schema_extra=RESTRICTED)
    seller_order_count: int | None = Field(None, ge=0, json_schema_extra=RESTRICTED)
    cost_price: float | None = Field(None, ge=MIN_PRICE, lt=MAX_PRICE, json_schema_extra=RESTRICTED)

    @model_validator(mode="after")
    def _times(self) -> Item:
        if self.updated_at < self.created_at:
            raise ValueError("updated_at is earlier than created_at")
        return self

    @property
    def category(self) -> str:
        return "/".join(self.category_path)


def restricted_fields(model: type[BaseModel] = Item) -> frozenset[str]:
    """Names of the fields marked restricted on ``model``."""
    out = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("restricted"):
            out.add(name)
    return frozenset(out)


class EventType(StrEnum):
    impression = "impression"
    click = "click"
    add_to_cart = "add_to_cart"
    purchase = "purchase"
    search = "search"


class Surface(StrEnum):
    feed = "feed"
    search = "search"


class Event(Strict):
    """One user event. Impressions carry the request id and position they were shown at."""

    type: EventType
    ts: datetime
    session_id: str = Field(pattern=_ID)
    user_id: str | None = Field(None, pattern=_ID)
    item_id: ItemId | None = None
    request_id: str | None = Field(None, pattern=_ID)
    position: int | None = Field(None, ge=0, le=10_000)
    query: str | None = Field(None, min_length=1, max_length=500)
    surface: Surface | None = None

    @model_validator(mode="after")
    def _shape(self) -> Event:
        if self.type == EventType.search:
            if not self.query:
                raise ValueError("a search event needs 'query'")
        elif self.item_id is None:
            raise ValueError(f"a {self.type.value} event needs 'item_id'")
        if self.type == EventType.impression and (self.request_id is None or self.position is None):
            raise ValueError("an impression needs 'request_id' and 'position'")
        return self


class EventBatch(Strict):
    events: list[Event] = Field(min_length=1, max_length=10_000)


class Filters(Strict):
    categories: list[str] | None = Field(None, max_length=100)
    brands: list[str] | None = Field(None, max_length=100)
    price_min: float | None = Field(None, ge=0, le=MAX_FILTER_PRICE)
    price_max: float | None = Field(None, gt=0, le=MAX_FILTER_PRICE)
    in_stock_only: bool = True

    @model_validator(mode="after")
    def _range(self) -> Filters:
        lo, hi = self.price_min, self.price_max
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("price_min is greater than price_max")
        return self


class _RequestBase(Strict):
    user_id: str | None = Field(None, pattern=_ID)
    session_id: str | None = Field(None, pattern=_ID)
    session_items: list[ItemId] = Field(default_factory=list, max_length=200)
    filters: Filters = Field(default_factory=Filters)
    page: int = Field(0, ge=0, le=100)
    page_size: int = Field(20, ge=1, le=100)
    explain: bool = False


class SearchRequest(_RequestBase):
    query: str = Field(min_length=1, max_length=500)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not re.search(r"\w", v):
            raise ValueError("query has no letters or digits")
        return v


class FeedRequest(_RequestBase):
    pass


class FeatureContribution(Strict):
    feature: str
    value: float | None  # None where the feature is missing for this item
    contribution: float


class ItemExplanation(Strict):
    sources: dict[str, float]
    ranker_score: float
    top_features: list[FeatureContribution]
    moved_by: list[str]


class ResultItem(Strict):
    id: str
    title: str
    brand: str
    category: str
    price: float
    score: float
    explanation: ItemExplanation | None = None


class StageTiming(Strict):
    stage: str
    ms: float
    status: Literal["ok", "timeout", "error", "skipped"]
    detail: str = ""


class RemovedItem(Strict):
    id: str
    stage: str
    reason: str


class Explain(Strict):
    stages: list[StageTiming]
    removed: list[RemovedItem]
    candidates: int
    rules: list[str] = Field(
        default_factory=list,
        description="merchandising rules that matched, and what they changed in the request; "
        "what they did to an item is in its moved_by",
    )


class RankedResponse(Strict):
    request_id: str
    surface: Surface
    items: list[ResultItem]
    page: int
    page_size: int
    total: int
    degraded: bool
    degraded_reasons: list[str]
    model_versions: dict[str, str]
    explain: Explain | None = None
    redirect: str | None = Field(None, description="a rule sends this query to a landing page")
    corrected_query: str | None = Field(
        None,
        description="the query searched instead of the one typed: words the catalog does not "
        "have, corrected to the catalog word one edit away",
    )


class ErrorResponse(Strict):
    error: str
    detail: list[dict[str, Any]] | None = None
