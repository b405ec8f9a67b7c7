"""Icecat electronics (the querqy/chorus catalog): 19,406 products, no events.

Items (``products/*.json.zip``, each one JSON array): ``id``, ``title`` (else ``name``),
``description`` = ``short_description``, ``brand`` = ``supplier``, ``price`` = ``price`` / 100
in EUR, ``created_at`` = ``date_released``. Every product has a positive price and a date;
should one lack them, it gets ``price`` 1.0 (a placeholder) and ``created_at`` 2000-01-01 rather
than be lost, since search judgments are about products, not prices. Attributes: ``name``
(often the model number), ``ean`` (space-separated), then every ``attr_t_*`` (text) and
``attr_n_*`` (number; integral values without ``.0``) under its name without the prefix; a
text and a number of one name (27 products, e.g. ``maximum_scan_area``) keep the text. The
schema holds at most 64 attributes: for the 479 products with more, the first 64 in that order
(text in file order before numbers) are kept. ``attr_b_*`` flags and image URLs are not
imported. A row's location is the zip and the 0-based index in its array.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ingest.imports.source import Located, Source, file_digest

NAME = "icecat"
UNDATED = datetime(2000, 1, 1, tzinfo=UTC)
MAX_ATTRIBUTES = 64  # ImportItem.attributes' max_length


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _attributes(product: dict[str, Any]) -> dict[str, str]:
    out = {"name": str(product.get("name") or ""), "ean": " ".join(product.get("ean") or [])}
    out = {k: v for k, v in out.items() if v}
    for prefix in ("attr_t_", "attr_n_"):
        for key, value in product.items():
            if key.startswith(prefix) and value is not None and len(out) < MAX_ATTRIBUTES:
                out.setdefault(key.removeprefix(prefix), _text(value))
    return out


def _item(product: dict[str, Any]) -> dict[str, Any]:
    price = product.get("price")
    row = {
        "id": str(product["id"]),
        "title": product.get("title") or product.get("name"),
        "description": product.get("short_description") or "",
        "brand": product.get("supplier"),
        "price": price / 100 if isinstance(price, int | float) and price > 0 else 1.0,
        "currency": "EUR",
        "created_at": product.get("date_released") or UNDATED,
        "attributes": _attributes(product),
    }
    return {k: v for k, v in row.items() if v is not None}


def _files(directory: Path) -> list[Path]:
    return sorted((directory / "products").glob("*.json.zip"))


def _items(directory: Path) -> Iterator[Located]:
    for path in _files(directory):
        with zipfile.ZipFile(path) as z:
            products = orjson.loads(z.read(z.namelist()[0]))
        for i, product in enumerate(products):
            yield f"products/{path.name}[{i}]", _item(product)


def sources(directory: Path) -> list[Source]:
    d = Path(directory)
    return [
        Source(
            "items",
            f"{NAME}:products",
            lambda: _items(d),
            file_digest(_files(d), salt=f"{NAME} v1 items"),
        )
    ]
