"""Small catalogs with known answers, shared by engine tests."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.core.catalog import Catalog
from engine.core.contracts import Availability, Item

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(
    i: int,
    *,
    title: str | None = None,
    category: tuple[str, ...] = ("Home", "Decor"),
    brand: str = "acme",
    seller: str = "s1",
    price: float = 10.0,
    in_stock: bool = True,
    version: int = 1,
    variant: str | None = None,
    created: datetime = T0,
    **restricted: float | int,
) -> Item:
    attrs = {"variant_group": variant} if variant else {}
    return Item(
        id=f"i{i}",
        title=title or f"item number {i}",
        description="",
        category_path=list(category),
        brand=brand,
        attributes=attrs,
        price=price,
        currency="USD",
        availability=Availability.in_stock if in_stock else Availability.out_of_stock,
        seller_id=seller,
        created_at=created,
        updated_at=created,
        version=version,
        **restricted,  # type: ignore[arg-type]
    )


def catalog(items: list[Item]) -> Catalog:
    c = Catalog()
    c.upsert(items)
    return c
