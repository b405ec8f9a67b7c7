"""The adapters on the real public datasets: the facts their READMEs state, and every row
through the schema (the few that fail, counted and explained)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ingest.imports.adapters import ADAPTERS, online_retail
from ingest.imports.schema import MODELS, ImportEvent, ImportItem, Kind
from ingest.imports.source import Source

Rows = list[tuple[str, dict[str, Any]]]


def _read(sources: list[Source]) -> dict[Kind, Rows]:
    out: dict[Kind, Rows] = {}
    for s in sources:
        rows = out.setdefault(s.kind, [])
        for where, row in s.rows():
            assert isinstance(row, dict), f"{where}: {row}"
            rows.append((where, row))
        assert s.total is None or s.total == len(rows)
    return out


def _failures(kind: Kind, rows: Rows) -> Counter[str]:
    """For each row the schema refuses: its first field and reason."""
    why: Counter[str] = Counter()
    for _, row in rows:
        try:
            MODELS[kind].model_validate(row)
        except ValidationError as exc:
            e = exc.errors()[0]
            why[f"{'.'.join(map(str, e['loc']))}: {e['type']}"] += 1
    return why


def _check_sources(sources: list[Source], kinds: list[Kind], again: list[Source]) -> None:
    assert [s.kind for s in sources] == kinds  # items first, then events
    assert len({s.fingerprint for s in sources}) == len(sources)  # one per kind
    assert [s.fingerprint for s in sources] == [s.fingerprint for s in again]


def test_adapter_names() -> None:
    assert set(ADAPTERS) == {"online-retail", "amazon-beauty", "icecat"}


@pytest.fixture(scope="module")
def retail(needs_data: Callable[[str], Path]) -> tuple[Path, dict[Kind, Rows]]:
    d = needs_data("online-retail")
    sources = ADAPTERS["online-retail"].sources(d)
    _check_sources(sources, ["items", "events"], ADAPTERS["online-retail"].sources(d))
    return d, _read(sources)


def test_online_retail_items(retail: tuple[Path, dict[Kind, Rows]]) -> None:
    _, rows = retail
    items = {r["id"]: r for _, r in rows["items"]}
    assert len(items) == len(rows["items"]) == 4_070  # README: 4,070 stock codes
    assert rows["items"][0][0] == "online_retail_2010-12_2011-12.parquet row 0"
    heart = items["85123A"]  # first sold as WHITE ..., lately as CREAM ...
    assert heart["title"] == "CREAM HANGING HEART T-LIGHT HOLDER" and heart["currency"] == "GBP"
    assert str(heart["created_at"]) == "2010-12-01 08:26:00" and 2 < heart["price"] < 4
    assert sum(r["title"] == "Unknown" for r in items.values() if "price" in r) == 0
    # quarantined: the codes never sold at a positive price, and the one with a space
    why = _failures("items", rows["items"])
    assert why == {"price: missing": 132, "id: string_pattern_mismatch": 1}
    assert items["BANK CHARGES"]["price"] > 0


def test_online_retail_events(retail: tuple[Path, dict[Kind, Rows]]) -> None:
    d, rows = retail
    events = [r for _, r in rows["events"]]
    s = online_retail.summary(d)
    assert s["lines"] == 541_909  # README
    assert s["events"] + s["cancelled_lines"] + s["non_positive_lines"] == s["lines"]
    assert 0.016 < s["cancelled_lines"] / s["lines"] < 0.018  # README: 1.7% cancellations
    assert len(events) == s["events"] == 531_285
    anonymous = sum(e["user_id"] is None for e in events)
    assert anonymous == s["anonymous_events"] and 0.24 < anonymous / len(events) < 0.26
    assert all(e["kind"] == "purchase" and e["quantity"] > 0 for e in events)
    assert not any(e["session_id"].startswith("C") for e in events)
    assert len({e["session_id"] for e in events}) > 20_000  # README: 25,900 invoices, all kinds
    assert len({e["user_id"] for e in events} - {None}) > 4_300  # README: 4,372 customers
    first = events[0]
    assert first["user_id"] == "17850" and first["item_id"] == "85123A" and first["quantity"] == 6
    # quarantined: the lines of BANK CHARGES only
    assert _failures("events", rows["events"]) == {"item_id: string_pattern_mismatch": 12}
    assert sum(e["item_id"] == "BANK CHARGES" for e in events) == 12


@pytest.fixture(scope="module")
def beauty(needs_data: Callable[[str], Path]) -> dict[Kind, Rows]:
    d = needs_data("amazon-beauty")
    sources = ADAPTERS["amazon-beauty"].sources(d)
    _check_sources(sources, ["items", "events"], ADAPTERS["amazon-beauty"].sources(d))
    return _read(sources)


def test_amazon_beauty(beauty: dict[Kind, Rows]) -> None:
    items = [r for _, r in beauty["items"]]
    assert [r["id"] for r in items] == [str(i) for i in range(1, 12_102)]  # README: 12,101
    assert beauty["items"][0][0] == "items.tsv:2"
    assert sum(r["title"] == r["attributes"]["asin"] for r in items) == 7  # the empty titles
    assert sum(len(r["title"]) == 500 for r in items) == 27  # cut to the schema's maximum
    assert all(r["attributes"].get("attribute_ids") for r in items)
    assert all(ImportItem.model_validate(r).price == 1.0 for r in items)
    events = [r for _, r in beauty["events"]]
    assert len(events) == 198_502  # README: 198,502 interactions
    per_user = Counter(e["user_id"] for e in events)
    assert len(per_user) == 22_363 and min(per_user.values()) >= 5  # README
    assert {e["item_id"] for e in events} == {r["id"] for r in items}
    parsed = [ImportEvent.model_validate(e) for e in events]  # every event validates
    assert all(e.session_id == e.user_id for e in parsed)
    # within a user, time follows the sequence's order
    assert all(a.ts < b.ts for a, b in pairwise(parsed) if a.user_id == b.user_id)
    assert beauty["events"][1][0] == "sequences.txt:1[1]"
    # aligned at the end: the protocol's cut leaves out exactly each user's last item, its
    # feature time the last two
    protocol = ADAPTERS["amazon-beauty"].protocol
    assert protocol.cut is not None and protocol.feature_ts is not None
    after = Counter(e.user_id for e in parsed if e.ts.timestamp() >= protocol.cut)
    assert len(after) == 22_363 and set(after.values()) == {1}
    last_two = Counter(e.user_id for e in parsed if e.ts.timestamp() >= protocol.feature_ts)
    assert set(last_two.values()) == {2}
    assert protocol.requests == "next_item"


@pytest.fixture(scope="module")
def icecat(needs_data: Callable[[str], Path]) -> tuple[Path, Rows]:
    d = needs_data("icecat-search")
    sources = ADAPTERS["icecat"].sources(d)
    _check_sources(sources, ["items"], ADAPTERS["icecat"].sources(d))
    return d, _read(sources)["items"]


def test_icecat(icecat: tuple[Path, Rows]) -> None:
    d, rows = icecat
    items = {r["id"]: ImportItem.model_validate(r) for _, r in rows}  # every item validates
    assert len(items) == len(rows) == 19_406  # README: 19,406 products
    assert rows[0][0] == "products/1.json.zip[0]"
    with (d / "judgments.csv").open(newline="") as fh:
        judged = {r["docid"] for r in csv.DictReader(fh)}
    assert judged and judged <= set(items)  # README: every judged docid is in the products
    toner = items["3920564"]
    assert toner.price == 49.95 and toner.brand == "Xerox" and toner.currency == "EUR"
    assert toner.attributes["name"] == "006R90321" and toner.attributes["ean"] == "0095205603217"
    assert toner.attributes["quantity_per_pack"] == "6"  # a whole number without ".0"
    assert toner.attributes["printing_colours"] == "Black"  # attr_t_printing_colours
    prices = [item.price for item in items.values()]  # cents / 100: no placeholder needed
    assert min(prices) == 0.95 and max(prices) == 43_519.95
    assert sum(len(item.attributes) == 64 for item in items.values()) == 515  # 479 cut
