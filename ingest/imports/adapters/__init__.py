"""Adapters: known public datasets (``/work/shared/data``-style directories) as import sources.

Each adapter maps one dataset's own files onto the import schema in a few lines and returns its
sources, items first, then events; the import validates every row as for any file. The mapping
decisions (what stands in for a missing price, date or title) are in each module's docstring
and in docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.imports.adapters import amazon_beauty, icecat, online_retail
from ingest.imports.layout import TEMPORAL, Protocol
from ingest.imports.source import Source


@dataclass(frozen=True, slots=True)
class Adapter:
    sources: Callable[[Path], list[Source]]
    protocol: Protocol = TEMPORAL  # how the jobs split the dataset


ADAPTERS: dict[str, Adapter] = {
    online_retail.NAME: Adapter(online_retail.sources),
    amazon_beauty.NAME: Adapter(amazon_beauty.sources, amazon_beauty.PROTOCOL),
    icecat.NAME: Adapter(icecat.sources),
}
