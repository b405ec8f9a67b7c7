"""UCI Online Retail (``online_retail_2010-12_2011-12.parquet``): a catalog and purchases built
from the 541,909 invoice lines of a UK gift retailer.

Items: one per ``StockCode`` (4,070), built in one streamed pass over the lines. ``title`` is
the code's most recent non-empty ``Description`` on a line with a positive ``UnitPrice`` (a
sale): on zero-price lines the file writes stock notes ("Unknown", "damages", "thrown away")
there, which would title 477 codes; a code never sold at a positive price takes its most
recent description. ``price`` is the most recent positive ``UnitPrice``, in GBP; the 132 codes
that never had one (stock adjustments only) get no price, and the import quarantines them.
``created_at`` is the first ``InvoiceDate`` of the code; no category (the schema's default).
Codes are kept as written (``85049a`` and ``85049A`` are two items); one code with a space
(``BANK CHARGES``) fails the schema's id pattern and is quarantined with its lines.

Events: every line with ``Quantity > 0`` whose ``InvoiceNo`` does not start with ``C`` is a
``purchase``: ``ts`` = ``InvoiceDate`` (the file's UK times, read as UTC) plus 1 ms per line
before it in its invoice (the lines of an invoice share one time: this keeps the basket's
order, so that a replay can show the first items of a basket as the session so far and ask
for the rest), ``user_id`` =
``CustomerID`` as an integer string (missing on 25% of them: anonymous buyers),
``session_id`` = ``InvoiceNo`` (so one basket is one session), ``item_id`` = ``StockCode``,
``quantity`` = ``Quantity``. Lines at price 0 with a positive quantity (1,181) are kept.
Cancellations (9,288 lines) and other lines with a non-positive quantity (1,336) are not
events: :func:`summary` counts them. A row's location is its 0-based row in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.imports.source import Located, Source, file_digest

NAME = "online-retail"
FILE = "online_retail_2010-12_2011-12.parquet"
_COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
]


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, line) for every invoice line, streamed in record batches."""
    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000, columns=_COLUMNS):
        for line in batch.to_pylist():
            yield n, line
            n += 1


def _later(latest: dict[str, tuple[datetime, Any]], code: str, when: datetime, v: Any) -> None:
    if code not in latest or when >= latest[code][0]:
        latest[code] = (when, v)


def _items(path: Path) -> Iterator[Located]:
    first: dict[str, tuple[int, datetime]] = {}  # code -> (row, date) where it first appears
    price: dict[str, tuple[datetime, Any]] = {}  # the latest positive price
    sold_as: dict[str, tuple[datetime, Any]] = {}  # the latest description on a sale line
    noted: dict[str, tuple[datetime, Any]] = {}  # the latest description on any line
    for n, line in _lines(path):
        code, when = line["StockCode"], line["InvoiceDate"]
        text = (line["Description"] or "").strip()
        first.setdefault(code, (n, when))
        if text:
            _later(noted, code, when, text)
        if line["UnitPrice"] > 0:
            _later(price, code, when, line["UnitPrice"])
            if text:
                _later(sold_as, code, when, text)
    for code, (n, created) in first.items():
        title = (sold_as.get(code) or noted.get(code) or (created, code))[1]
        row = {"id": code, "title": title, "currency": "GBP", "created_at": created}
        if code in price:
            row["price"] = price[code][1]
        yield f"{FILE} row {n}", row


def _events(path: Path) -> Iterator[Located]:
    invoice, k = None, 0
    for n, line in _lines(path):
        if line["Quantity"] <= 0 or line["InvoiceNo"].startswith("C"):
            continue
        k = k + 1 if line["InvoiceNo"] == invoice else 0
        invoice = line["InvoiceNo"]
        customer = line["CustomerID"]
        yield (
            f"{FILE} row {n}",
            {
                "ts": line["InvoiceDate"] + timedelta(milliseconds=k),
                "user_id": None if customer is None else str(int(customer)),
                "session_id": line["InvoiceNo"],
                "kind": "purchase",
                "item_id": line["StockCode"],
                "quantity": line["Quantity"],
            },
        )


def summary(directory: Path) -> dict[str, int]:
    """What the file holds and what became events: lines, events, anonymous events, and the
    lines that are not events (cancellations; other non-positive quantities)."""
    t = pq.read_table(Path(directory) / FILE, columns=["InvoiceNo", "Quantity", "CustomerID"])
    cancelled = pc.starts_with(t["InvoiceNo"], "C")
    positive = pc.greater(t["Quantity"], 0)
    event = pc.and_(pc.invert(cancelled), positive)
    return {
        "lines": t.num_rows,
        "events": pc.sum(event).as_py() or 0,
        "anonymous_events": pc.sum(pc.and_(event, pc.is_null(t["CustomerID"]))).as_py() or 0,
        "cancelled_lines": pc.sum(cancelled).as_py() or 0,
        "non_positive_lines": pc.sum(pc.and_(pc.invert(cancelled), pc.invert(positive))).as_py()
        or 0,
    }


def sources(directory: Path) -> list[Source]:
    path = Path(directory) / FILE
    label = f"{NAME}:{FILE}"
    return [
        Source("items", label, lambda: _items(path), file_digest([path], salt=f"{NAME} v1 items")),
        Source(
            "events",
            label,
            lambda: _events(path),
            file_digest([path], salt=f"{NAME} v2 events"),
            total=summary(directory)["events"],
        ),
    ]
