"""BM25 source: the row-keyed path of the embedded index gives the same candidates as ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import RequestContext
from engine.core.search import Hits, SearchFilter, SearchIndex
from engine.serving.sources.lexical import LexicalSource, RowKeyedLexical, RowMap
from search_plugins.embedded import EmbeddedIndex, EmbeddedParams
from tests.engine.fixtures import catalog, item


class IdsOnly:
    """Hides the row-keyed capability: only the SearchIndex face of the wrapped index."""

    def __init__(self, index: EmbeddedIndex) -> None:
        self.index = index

    async def lexical(self, query: str, k: int, flt: SearchFilter | None = None) -> Hits:
        return await self.index.lexical(query, k, flt)


def _ctx(query: str) -> RequestContext:
    return RequestContext(request_id="r", surface=Surface.search, now=0.0, query=query)


async def test_row_keyed_path_matches_the_id_path_through_row_reuse(tmp_path: Path) -> None:
    items = [item(i, title=f"red lamp {i}" if i % 2 else f"blue lamp {i}") for i in range(40)]
    cat = catalog([*items, item(99, title="red lamp extra")])
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), 8, EmbeddedParams(writer_heap_mb=16))
    assert isinstance(idx, RowKeyedLexical)
    await idx.upsert([cat.index_doc(r) for r in range(40)])
    await idx.refresh()
    fast = LexicalSource(idx, cat)
    slow = LexicalSource(IdsOnly(idx), cat)  # type: ignore[arg-type]
    assert not isinstance(slow.index, RowKeyedLexical)

    async def same(query: str) -> list[int]:
        a, b = await fast.fetch(_ctx(query), 100), await slow.fetch(_ctx(query), 100)
        assert a.rows.tolist() == b.rows.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)
        return list(a.rows.tolist())

    first = await same("red lamp")
    assert len(first) == 40 and set(first) == set(range(40))
    # delete half, compact so their rows are freed, then index other items into those rows
    await idx.delete([f"i{i}" for i in range(0, 40, 2)], 1)
    await idx.compact()
    freed = set(idx.registry.free)
    assert freed
    extra = cat.index_doc(40)  # i99, catalog row 40
    await idx.upsert([extra])
    await idx.refresh()
    reused = idx.registry.row(extra.id)
    assert reused in freed and idx.registry.row_stamp[reused] == 1
    again = await same("red lamp")
    assert 40 in again and not set(again) & set(range(0, 40, 2))
    await idx.close()


def test_row_map_caches_by_stamp_and_skips_unknown_ids() -> None:
    names = {0: "a", 1: "b", 2: "zzz"}
    asked: list[list[int]] = []

    def ids_of(rows: np.ndarray) -> list[str]:
        asked.append(rows.tolist())
        return [names[r] for r in rows.tolist()]

    row_of = {"a": 7, "b": 9}
    m = RowMap()
    rows = np.array([0, 1, 2], dtype=np.int64)
    stamps = np.zeros(3, dtype=np.int64)
    assert m.lookup(rows, stamps, ids_of, row_of).tolist() == [7, 9, -1]
    assert m.lookup(rows, stamps, ids_of, row_of).tolist() == [7, 9, -1]
    assert asked == [[0, 1, 2], [2]]  # cached; the unknown id is asked again
    names[1] = "c"
    row_of["c"] = 3
    assert m.lookup(rows[:2], np.array([0, 1]), ids_of, row_of).tolist() == [7, 3]  # reused row
    assert asked[-1] == [1]
    assert m.lookup(np.zeros(0, np.int64), np.zeros(0, np.int64), ids_of, row_of).tolist() == []


def test_embedded_index_is_still_a_search_index(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), 8)
    assert isinstance(idx, SearchIndex)
    idx.close_sync()


async def test_feed_searches_the_sessions_latest_query(tmp_path: Path) -> None:
    cat = catalog([item(i, title=t) for i, t in enumerate(["red lamp", "oak desk", "oak shelf"])])
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), 8, EmbeddedParams(writer_heap_mb=16))
    await idx.upsert([cat.index_doc(r) for r in range(3)])
    await idx.refresh()
    src = LexicalSource(idx, cat, feed_k=1)

    def feed(*queries: str) -> RequestContext:
        return RequestContext("r", Surface.feed, 0.0, session_queries=queries)

    assert len((await src.fetch(feed(), 10)).rows) == 0  # no search in the session: nothing
    assert (await src.fetch(feed("oak"), 10)).rows.tolist() in ([1], [2])  # at most feed_k
    src.feed_k = 10
    assert sorted((await src.fetch(feed("oak", "lamp"), 10)).rows.tolist()) == [0]  # the latest
    assert sorted((await src.fetch(_ctx("oak"), 10)).rows.tolist()) == [1, 2]  # search: its query
    await idx.close()
