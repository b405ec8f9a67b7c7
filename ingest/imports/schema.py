"""The import schema, version 1: catalog items, interaction events and impression logs.

One pydantic model per record kind states every rule a row must meet; a row that fails gets
the field and the reason. Field names are the schema's (docs/data.md), not the engine's:
:meth:`ImportItem.to_item` maps an item to the API's :class:`~engine.core.contracts.Item`.
Timestamps without a zone are read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.core.contracts import (
    MAX_PRICE,
    MAX_VERSION,
    MIN_PRICE,
    RESTRICTED,
    Availability,
    Item,
    Surface,
)

SCHEMA_VERSION = 1
Kind = Literal["items", "events", "impressions"]
KINDS: tuple[Kind, ...] = ("items", "events", "impressions")

_ID = r"^[A-Za-z0-9_.:\-]{1,128}$"
Id = Annotated[str, Field(pattern=_ID)]
CATEGORY_SEPARATOR = " > "
UNCATEGORISED = "Uncategorised"


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _id(value: Any) -> Any:
    """Ids may arrive as numbers (a CSV or Parquet integer column): as their decimal text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ImportItem(Row):
    """A catalog item. ``version`` orders updates of one id (default: ``updated_at`` in
    seconds, else 0); the highest wins, the last imported among equals."""

    id: Id
    title: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=10_000)
    category: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=lambda: [UNCATEGORISED],
        min_length=1,
        max_length=8,
        description="root-to-leaf category names, or one string 'A > B > C'",
    )
    brand: str | None = Field(None, max_length=200)
    seller: Id | None = None
    price: float = Field(ge=MIN_PRICE, lt=MAX_PRICE)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    stock: int | None = Field(None, ge=0, description="units in stock; None: in stock")
    created_at: datetime
    updated_at: datetime | None = None
    version: int | None = Field(None, ge=0, le=MAX_VERSION)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=64)
    # Restricted: the engine uses these only through declared aggregations.
    seller_rating: float | None = Field(None, ge=0, le=5, json_schema_extra=RESTRICTED)
    seller_order_count: int | None = Field(None, ge=0, json_schema_extra=RESTRICTED)
    cost_price: float | None = Field(None, ge=MIN_PRICE, lt=MAX_PRICE, json_schema_extra=RESTRICTED)

    _ids = field_validator("id", "seller", mode="before")(classmethod(lambda cls, v: _id(v)))
    _times = field_validator("created_at", "updated_at", mode="after")(
        classmethod(lambda cls, v: _utc(v))
    )

    @field_validator("category", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        if value is None or value == "":
            return [UNCATEGORISED]
        if isinstance(value, str):
            return [p.strip() for p in value.split(CATEGORY_SEPARATOR.strip())]
        return value

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, str):  # a CSV cell: a JSON object
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ValueError("not a JSON object of attribute names to values") from None
        if isinstance(value, list):  # an Arrow map column reads as (key, value) pairs
            value = dict(value)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items() if v is not None}
        return value

    @model_validator(mode="after")
    def _order(self) -> ImportItem:
        if self.updated_at is not None and self.updated_at < self.created_at:
            raise ValueError("updated_at is earlier than created_at")
        return self

    def effective_version(self) -> int:
        if self.version is not None:
            return self.version
        return 0 if self.updated_at is None else int(self.updated_at.timestamp())

    def to_item(self) -> Item:
        availability = (
            Availability.in_stock
            if self.stock is None or self.stock > 0
            else Availability.out_of_stock
        )
        return Item(
            id=self.id,
            title=self.title,
            description=self.description,
            category_path=self.category,
            brand=self.brand or "unbranded",
            attributes=self.attributes,
            price=self.price,
            currency=self.currency,
            availability=availability,
            seller_id=self.seller or "unknown",
            created_at=self.created_at,
            updated_at=self.updated_at or self.created_at,
            version=self.effective_version(),
            seller_rating=self.seller_rating,
            seller_order_count=self.seller_order_count,
            cost_price=self.cost_price,
        )


class EventKind(StrEnum):
    view = "view"  # the item's page was opened
    click = "click"  # the item was clicked in a list (feed or search results)
    add_to_cart = "add_to_cart"
    purchase = "purchase"
    search = "search"  # a query was submitted; no item


class ImportEvent(Row):
    """One interaction. ``user_id`` absent: an anonymous visitor, known by ``session_id``."""

    ts: datetime
    user_id: Id | None = None
    session_id: Id
    kind: EventKind
    item_id: Id | None = None
    query: str | None = Field(None, min_length=1, max_length=500)
    position: int | None = Field(None, ge=0, le=10_000)
    surface: Surface | None = None
    request_id: Id | None = None
    quantity: int | None = Field(None, ge=1, le=1_000_000)

    _ids = field_validator("user_id", "session_id", "item_id", "request_id", mode="before")(
        classmethod(lambda cls, v: _id(v))
    )
    _time = field_validator("ts", mode="after")(classmethod(lambda cls, v: _utc(v)))

    @model_validator(mode="after")
    def _shape(self) -> ImportEvent:
        if self.kind == EventKind.search:
            if not self.query:
                raise ValueError("a search event needs 'query'")
        elif self.item_id is None:
            raise ValueError(f"a {self.kind.value} event needs 'item_id'")
        return self


class ImportImpression(Row):
    """One item shown at one position of one served page (request)."""

    ts: datetime
    request_id: Id
    user_id: Id | None = None
    session_id: Id
    surface: Surface
    query: str | None = Field(None, min_length=1, max_length=500)
    item_id: Id
    position: int = Field(ge=0, le=10_000)

    _ids = field_validator("user_id", "session_id", "item_id", "request_id", mode="before")(
        classmethod(lambda cls, v: _id(v))
    )
    _time = field_validator("ts", mode="after")(classmethod(lambda cls, v: _utc(v)))


MODELS: dict[Kind, type[Row]] = {
    "items": ImportItem,
    "events": ImportEvent,
    "impressions": ImportImpression,
}


def columns(kind: Kind) -> tuple[str, ...]:
    return tuple(MODELS[kind].model_fields)


def required(kind: Kind) -> tuple[str, ...]:
    return tuple(n for n, f in MODELS[kind].model_fields.items() if f.is_required())
