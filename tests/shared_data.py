"""The real public datasets the tests read, in one place: where they are and how to ask.

One rule for the directory: ``SHOPNOW_SHARED_DATA`` when set, else ``../shared/data`` next to
the clone (what ``Settings().shared_data`` means when run from the clone). A test asks for a
dataset through the ``needs_data`` fixture (``tests/conftest.py``): without its files the test
is skipped with where to put them, and under CI it fails instead (CI must run them).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.servers import missing

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHOPNOW_SHARED_DATA") or REPO.parent / "shared" / "data")

#: Each dataset and the files a test needs from it.
DATASETS: dict[str, tuple[str, ...]] = {
    "amazon-beauty": ("sequences.txt", "items.tsv", "item_attributes.json"),
    "gowalla": ("train.txt", "test.txt"),
    "online-retail": ("online_retail_2010-12_2011-12.parquet",),
    "icecat-search": ("judgments.csv", "products"),
}


def dataset(name: str) -> Path:
    """The directory of dataset ``name``, or skip (fail under CI) saying where it goes."""
    d = SHARED_DATA / name
    absent = [f for f in DATASETS[name] if not (d / f).exists()]
    if absent:
        missing(
            f"{name} data missing ({', '.join(absent)} not in {d}): put the {name} dataset "
            f"under {SHARED_DATA}, or set SHOPNOW_SHARED_DATA to the directory that holds it"
        )
    return d
