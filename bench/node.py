"""A local OpenSearch node for one benchmark run, in a home its own user can enter.

As root, ``devtools.opensearch_node`` runs the node as a dedicated non-root user. That
user cannot enter a ``tempfile.TemporaryDirectory()`` (mode 700), so every benchmark that
starts a node takes its home from :func:`node_home`. On a node it was given, a run deletes what
it wrote (:func:`dropped_after`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.core.settings import Settings
from search_plugins.opensearch.client import drop_alias


@contextlib.contextmanager
def node_home(prefix: str = "shopnow-bench-os-") -> Iterator[Path]:
    """A new temporary directory that other users can enter (mode 755), removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        home.chmod(0o755)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def local_node(
    url: str | None = None, *, needed: bool = True, heap: str | None = None
) -> Iterator[str | None]:
    """``url`` when given (or None when no node is needed); otherwise the URL of a local node
    started for the run in a :func:`node_home`, stopped and removed afterwards."""
    if url or not needed:
        yield url
        return
    from devtools.opensearch_node import down, up

    with node_home() as home:
        try:
            yield (up(home, 0) if heap is None else up(home, 0, heap=heap)).url
        finally:
            down(home)


@contextlib.contextmanager
def dropped_after(settings: Settings) -> Iterator[None]:
    """On the OpenSearch backend, drop the settings' alias afterwards (errors are printed: the
    node may be the reason the run failed)."""
    try:
        yield
    finally:
        if settings.search_backend == "opensearch":
            try:
                asyncio.run(drop_alias(settings.opensearch_url, settings.opensearch_alias))
            except Exception as exc:
                print(f"could not drop {settings.opensearch_alias}: {exc!r}", file=sys.stderr)
