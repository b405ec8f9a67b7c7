"""Which search backend the engine talks to: one setting (``search_backend``) picks it.

``build`` fills a fresh index from the catalog: on the embedded backend a new directory, on
OpenSearch a new generation behind the alias, promoted atomically once full (blue/green), so a
running engine keeps answering from the old generation while the new one fills.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Sequence

from engine.core.search import IndexDoc, SearchIndex, UpsertReport
from engine.core.settings import Settings
from search_plugins.embedded.index import EmbeddedIndex
from search_plugins.opensearch import OpenSearchIndex, OpenSearchParams

BULK = 5000


def opensearch_params(settings: Settings, offline: bool = False) -> OpenSearchParams:
    """``offline``: for replays (training, evaluation), which wait for slow answers."""
    deadline = settings.offline_deadline_ms if offline else settings.request_deadline_ms
    return OpenSearchParams(
        alias=settings.opensearch_alias,
        shards=settings.opensearch_shards,
        replicas=settings.opensearch_replicas,
        search_timeout_s=deadline / 1e3,
    )


async def open_index(settings: Settings, offline: bool = False) -> SearchIndex:
    if settings.search_backend == "opensearch":
        params = opensearch_params(settings, offline)
        return await OpenSearchIndex.open(settings.opensearch_url, params)
    if not settings.index_dir.exists():
        raise FileNotFoundError(f"no index at {settings.index_dir}; run `shopnow index` first")
    return EmbeddedIndex.open(str(settings.index_dir))


async def build(
    settings: Settings,
    n: int,
    doc: Callable[[int], IndexDoc],
    on_batch: Callable[[int], object] = lambda _: None,
) -> int:
    """Index docs ``doc(0) .. doc(n-1)`` into a fresh index; returns the live count."""
    if settings.search_backend == "opensearch":
        index = await OpenSearchIndex.create(
            settings.opensearch_url, settings.vector_dim, opensearch_params(settings)
        )
        try:
            await index.begin_generation(settings.vector_dim)
            await _fill(index.fill, n, doc, on_batch)
            await index.promote()
            return await index.count()
        finally:
            await index.close()
    if settings.index_dir.exists():
        shutil.rmtree(settings.index_dir)
    emb = EmbeddedIndex.create(str(settings.index_dir), dim=settings.vector_dim)
    try:
        await _fill(emb.upsert, n, doc, on_batch)
        await emb.refresh()
        return await emb.count()
    finally:
        await emb.close()


async def _fill(
    write: Callable[[Sequence[IndexDoc]], Awaitable[UpsertReport]],
    n: int,
    doc: Callable[[int], IndexDoc],
    on_batch: Callable[[int], object],
) -> None:
    for start in range(0, n, BULK):
        rows = range(start, min(start + BULK, n))
        rep = await write([doc(r) for r in rows])
        if rep.failed:
            some = list(rep.failed.items())[:3]
            raise ValueError(f"{len(rep.failed)} items failed to index: {some}")
        on_batch(len(rows))
