"""Amazon Beauty 5-core (the S3-Rec split): 12,101 items and 198,502 reviews by 22,363 users.

Items (``items.tsv``, ``item_attributes.json``): ``id`` = ``item_id`` (``"1"``..``"12101"``),
``title`` = the product title; the 7 empty titles fall back to the ASIN and the 27 titles
longer than the schema's 500 characters are cut to 500, so that no item is lost. Attributes:
``asin``, and ``attribute_ids`` = the item's anonymised brand/category ids, space-separated
(``"1 2 3"``). The data has no prices and no dates: every item gets ``price`` 1.0 (USD, a
placeholder: price features say nothing here) and ``created_at`` 2013-01-01 (fixed, a year
before any event, so that no item is "new" and none is unavailable when a request is replayed).

Events (``sequences.txt``): every item of a user's sequence is a ``purchase`` (a review),
``user_id`` = ``session_id`` = the user's id. The data has order but no times, so the
sequences are aligned at their end: a user's last item at 2014-01-01 00:00:00, the one before
a second earlier, and so on (``ts`` = EPOCH - (n - 1 - position) s). The protocol for Beauty is
the published leave-one-out by order (per user, last item test, second-to-last validation),
and with this alignment it is a global temporal split (:data:`PROTOCOL`): the cut half a second
before EPOCH leaves out exactly each user's last item, and the ranker's feature time half a
second before the second-to-last; the requests ask each user for their next item. A row's
location is the line and the 0-based position on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from ingest.imports.layout import Protocol
from ingest.imports.source import Located, Source, file_digest

NAME = "amazon-beauty"
EPOCH = datetime(2014, 1, 1, tzinfo=UTC)
CREATED = datetime(2013, 1, 1, tzinfo=UTC)
MAX_TITLE = 500  # ImportItem.title's max_length
PROTOCOL = Protocol(
    cut=EPOCH.timestamp() - 0.5,
    feature_ts=EPOCH.timestamp() - 1.5,
    requests="next_item",
    note="leave-one-out (S3-Rec): each user's last item held out, the second-to-last "
    "trains the ranker; sequences aligned at their end",
)


def _items(directory: Path) -> Iterator[Located]:
    attribute_ids = orjson.loads((directory / "item_attributes.json").read_bytes())
    with (directory / "items.tsv").open(encoding="utf-8") as fh:
        next(fh)  # the header
        for n, line in enumerate(fh, 2):
            item_id, asin, title = line.rstrip("\n").split("\t", 2)
            attributes = {"asin": asin}
            if item_id in attribute_ids:
                attributes["attribute_ids"] = " ".join(map(str, attribute_ids[item_id]))
            yield (
                f"items.tsv:{n}",
                {
                    "id": item_id,
                    "title": (title.strip() or asin)[:MAX_TITLE],
                    "price": 1.0,
                    "currency": "USD",
                    "created_at": CREATED,
                    "attributes": attributes,
                },
            )


def _events(directory: Path) -> Iterator[Located]:
    with (directory / "sequences.txt").open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            user, *items = line.split()
            for i, item in enumerate(items):
                yield (
                    f"sequences.txt:{n}[{i}]",
                    {
                        "ts": EPOCH - timedelta(seconds=len(items) - 1 - i),
                        "user_id": user,
                        "session_id": user,
                        "kind": "purchase",
                        "item_id": item,
                    },
                )


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sources(directory: Path) -> list[Source]:
    d = Path(directory)
    item_files = [d / "items.tsv", d / "item_attributes.json"]
    return [
        Source(
            "items",
            f"{NAME}:items.tsv",
            lambda: _items(d),
            file_digest(item_files, salt=f"{NAME} v2 items"),
            total=len(_lines(item_files[0])) - 1,  # less the header
        ),
        Source(
            "events",
            f"{NAME}:sequences.txt",
            lambda: _events(d),
            file_digest([d / "sequences.txt"], salt=f"{NAME} v2 events"),
            total=sum(len(x.split()) - 1 for x in _lines(d / "sequences.txt")),
        ),
    ]
