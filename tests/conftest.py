"""Markers every test gets from what it needs, so the suite runs in pieces:

- ``integration``: a real Redis or OpenSearch server (``tests/servers.py``);
- ``data``: a shared real dataset (the ``needs_data`` fixture);
- ``browser``: a headless browser (the console tests);
- ``slow``: trains models or builds synthetic worlds end to end (a module's ``pytestmark``);
- ``unit``: none of these: ``make test-unit`` runs them, in under two minutes, with no servers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers import NO_OPENSEARCH, NO_POSTGRES, NO_REDIS
from tests.shared_data import dataset

_SERVER_REASONS = (NO_REDIS, NO_OPENSEARCH, NO_POSTGRES)


@pytest.fixture(scope="session")
def needs_data() -> Callable[[str], Path]:
    """``needs_data("amazon-beauty")``: the dataset's directory (see ``tests/shared_data.py``)."""
    return dataset


@pytest.fixture(scope="session")
def text_cache() -> Path:
    """Text embeddings shared across runs: each distinct text is encoded once per machine."""
    return Path.home() / ".cache" / "shopnow" / "text-embeddings"


@pytest.fixture(scope="session")
def beauty_dir(needs_data: Callable[[str], Path]) -> Path:
    return needs_data("amazon-beauty")


def _needs_a_server(item: pytest.Item) -> bool:
    return any(
        str(m.kwargs.get("reason", "")).startswith(_SERVER_REASONS)
        for m in item.iter_markers("skipif")
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "needs_data" in fixtures or "beauty_dir" in fixtures:
            item.add_marker(pytest.mark.data)
        if _needs_a_server(item):
            item.add_marker(pytest.mark.integration)
        if not any(item.get_closest_marker(m) for m in ("integration", "data", "browser", "slow")):
            item.add_marker(pytest.mark.unit)
