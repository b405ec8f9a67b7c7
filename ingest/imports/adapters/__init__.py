"""Adapters: known public datasets (``/work/shared/data``-style directories) as import sources.

Each adapter maps one dataset's own files onto the import schema in a few lines and returns its
sources, items first, then events; the import validates every row as for any file. The mapping
decisions (what stands in for a missing price, date or title) are in each module's docstring
and in docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.imports.adapters import amazon_beauty, icecat, online_retail
from ingest.imports.source import Source

ADAPTERS: dict[str, Callable[[Path], list[Source]]] = {
    online_retail.NAME: online_retail.sources,
    amazon_beauty.NAME: amazon_beauty.sources,
    icecat.NAME: icecat.sources,
}
