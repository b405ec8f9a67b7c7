"""The SearchIndex conformance suite against EmbeddedIndex, plus embedded-only behaviour."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from engine.core.search import SearchFilter, SearchIndex, delete_order
from search_plugins.embedded import EmbeddedIndex, EmbeddedParams, HnswParams
from search_plugins.embedded.partitions import PartitionedVectors
from search_plugins.embedded.registry import RowRegistry
from search_plugins.embedded.vectors import VectorStore
from tests.search_plugins.conformance import (
    DIM,
    FILTERS,
    QUERY,
    Reopen,
    SearchIndexConformance,
    brute_vector,
    catalog,
)

GRAPH_ONLY = EmbeddedParams(
    hnsw=HnswParams(exact_min=0, exact_per_k=0, exact_share=0.0), writer_heap_mb=16, compact_min=0
)

# Every category filter scans the category blocks; every other filter goes through HNSW.
BLOCKS = dataclasses.replace(GRAPH_ONLY, partition_max_share=1e9)


class TestEmbeddedIndex(SearchIndexConformance):
    """The suite with default settings, with the exact shortcut off (every vector search goes
    through HNSW), and with category filters always answered from the category blocks."""

    @pytest.fixture(
        params=[EmbeddedParams(writer_heap_mb=16), GRAPH_ONLY, BLOCKS],
        ids=["default", "graph_path", "category_blocks"],
    )
    async def index(
        self, tmp_path: Path, request: pytest.FixtureRequest
    ) -> AsyncIterator[EmbeddedIndex]:
        idx = EmbeddedIndex.create(str(tmp_path / "ix"), DIM, request.param)
        assert isinstance(idx, SearchIndex)
        yield idx
        await idx.close()

    @pytest.fixture
    def reopen(self) -> Reopen:
        async def again(index: SearchIndex) -> SearchIndex:
            """The files as a crash would leave them (a copy: the index is single-writer)."""
            assert isinstance(index, EmbeddedIndex)
            copy = f"{index.path}-after-crash"
            shutil.copytree(index.path, copy, ignore=shutil.ignore_patterns("*.lock"))
            return EmbeddedIndex.open(copy, index.params)

        return again


def test_routing_to_blocks(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path), DIM, EmbeddedParams(partition_max_share=0.45))
    idx.upsert_sync(catalog())
    idx.refresh_sync()
    route = idx.vector_search.block_keys
    assert route(FILTERS["category_top"], "m1") is None  # Electronics, m1: 50% of the vectors
    assert route(FILTERS["category_leaf"], "m1") is None  # a leaf of Electronics: same block
    assert route(FILTERS["category_top"], "m2") is not None  # Electronics, m2: 10%
    assert route(FILTERS["combined"], "") is not None  # Home: 40%, all m1
    assert route(FILTERS["category_any_of"], "m1") is None  # Home and Electronics
    assert route(FILTERS["category_not_a_word_prefix"], "m1") == []  # no block: nothing to scan
    assert route(FILTERS["combined"], "m3") == []  # no such model
    assert route(FILTERS["brand"], "m1") is not None  # acme + initech, m1: 40% (brand blocks)
    assert route(None, "m1") is None and route(FILTERS["in_stock"], "m1") is None
    idx.close_sync()


def test_routing_picks_the_smaller_partitioning(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path), DIM, EmbeddedParams(partition_max_share=0.45))
    idx.upsert_sync(catalog())
    idx.refresh_sync()
    vs = idx.vector_search
    # Home (48 vectors) and globex (30): the brand blocks are smaller
    part, keys = vs.route(FILTERS["combined"], "") or (None, [])
    assert part is not None and part.name == "brand" and part.blocks.size(keys) == 30
    # Home (48, the root of Home/Kitchen) against acme + initech (60): the category blocks
    flt = SearchFilter(categories=("Home/Kitchen",), brands=("acme", "initech"))
    got = vs.route(flt, "")
    assert got is not None and got[0].name == "category"
    assert vs.block_keys(SearchFilter(brands=("no-such-brand",)), "m1") == []  # nothing to scan
    idx.close_sync()


async def test_brand_blocks_can_be_disabled(tmp_path: Path) -> None:
    params = EmbeddedParams(partition_max_share=0.45, brand_blocks=False)
    idx = EmbeddedIndex.create(str(tmp_path), DIM, params)
    await idx.upsert(catalog())
    await idx.refresh()
    assert [p.name for p in idx.vector_search.partitionings] == ["category"]
    assert idx.vector_search.block_keys(FILTERS["brand"], "m1") is None
    hits = await idx.vector(QUERY, 10, FILTERS["brand"], "m1")
    assert hits.ids == brute_vector(catalog(), QUERY, 10, FILTERS["brand"], "m1")
    await idx.close()


async def test_blocks_survive_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "ix")
    idx = EmbeddedIndex.create(path, DIM, BLOCKS)
    await idx.upsert(catalog())
    await idx.delete(["d3"], 1)
    await idx.upsert([dataclasses.replace(catalog()[4], version=2, category="Electronics/X")])
    flt = SearchFilter(categories=("Electronics", "Home/Garden"), in_stock=True)
    await idx.refresh()
    before = await idx.vector(QUERY, 50, flt, "m1")
    await idx.close()
    again = EmbeddedIndex.open(path, BLOCKS)
    assert again.vector_search.block_keys(flt, "m1") is not None
    after = await again.vector(QUERY, 50, flt, "m1")
    assert after.ids == before.ids and len(after) > 0
    np.testing.assert_allclose(after.scores, before.scores, rtol=1e-6)
    await again.close()


def test_partitioned_vectors_tombstones_and_compaction() -> None:
    rng = np.random.default_rng(5)
    vecs = rng.standard_normal((40, 4)).astype(np.float32)
    parts = PartitionedVectors(4, compact_min=5)
    rows = np.arange(40, dtype=np.int64)
    parts.put(rows, rows % 2, vecs)
    parts.put(rows[:4], np.ones(4, dtype=np.int64), vecs[:4])  # rows 0 and 2 move to block 1
    parts.remove(np.array([1, 3, 5, 39, 1000], dtype=np.int64))  # 1000 never had a slot
    assert parts.size([0]) == 20 and parts.blocks[0].n_live == 18
    assert parts.blocks[1].n == 24 and parts.blocks[1].n_live == 20 - 2 + 4 - 4
    parts.remove(np.arange(7, 31, 2, dtype=np.int64))  # 12 more from block 1: compacted
    assert parts.blocks[1].n == parts.blocks[1].n_live == 6

    def keep(at: np.ndarray) -> np.ndarray:
        return np.ones(len(at), dtype=np.bool_)

    q = rng.standard_normal(4).astype(np.float32)
    live = [r for r in range(40) if r not in {1, 3, 5, 39} and not (r % 2 and 7 <= r < 31)]
    want = sorted(live, key=lambda r: -float(vecs[r] @ q))
    got, scores = parts.search(q, 100, [0, 1], keep, exclude=[8])
    assert got.tolist() == [r for r in want if r != 8]
    np.testing.assert_allclose(scores, vecs[got] @ q, rtol=1e-5, atol=1e-6)
    assert parts.block_of(np.array([0, 1, 2, 4, 999])).tolist() == [1, -1, 1, 0, -1]


async def test_persist_and_reopen_gives_same_results(tmp_path: Path) -> None:
    path = str(tmp_path / "ix")
    idx = EmbeddedIndex.create(path, DIM, GRAPH_ONLY)
    await idx.upsert(catalog())
    await idx.delete(["d3"], 1)
    flt = SearchFilter(categories=("Electronics",), in_stock=True)
    await idx.refresh()
    before = (await idx.lexical("item red", 20, flt), await idx.vector(QUERY, 20, flt, "m1"))
    await idx.close()

    again = EmbeddedIndex.open(path)
    after = (await again.lexical("item red", 20, flt), await again.vector(QUERY, 20, flt, "m1"))
    for b, a in zip(before, after, strict=True):
        assert a.ids == b.ids
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    assert await again.count() == 119
    stale = await again.upsert([dataclasses.replace(catalog()[3], version=1)])
    assert stale.stale == ["d3"]  # tombstones survive the reopen
    await again.close()


async def test_create_refuses_existing(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path), DIM)
    await idx.close()
    with pytest.raises(FileExistsError):
        EmbeddedIndex.create(str(tmp_path), DIM)


async def test_writes_visible_only_after_refresh(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path), DIM, GRAPH_ONLY)
    await idx.upsert(catalog(10))
    assert len(await idx.lexical("item", 10)) == 0
    assert len(await idx.vector(QUERY, 10, model="m1")) == 0
    await idx.refresh()
    assert len(await idx.lexical("item", 10)) == 10
    await idx.close()


async def test_compaction_drops_dead_vectors_and_reuses_rows(tmp_path: Path) -> None:
    params = dataclasses.replace(GRAPH_ONLY, compact_min=10**9)  # only explicit compaction
    idx = EmbeddedIndex.create(str(tmp_path), DIM, params)
    docs = catalog()
    await idx.upsert(docs)
    await idx.refresh()
    rng = np.random.default_rng(3)
    moved = [
        dataclasses.replace(d, version=2, vector=rng.standard_normal(DIM).astype(np.float32))
        for d in docs[:60]
    ]
    await idx.upsert(moved)
    await idx.delete([d.id for d in docs[60:90]], 1)
    await idx.refresh()
    assert idx.vectors.n_graph == 180
    assert await idx.compact() == 90
    assert idx.vectors.n_graph == 90
    current = moved + docs[90:]
    for q in rng.standard_normal((3, DIM)).astype(np.float32):
        ids = (await idx.vector(q, 10, model="m1")).ids
        assert ids == brute_vector(current, q, 10, None, "m1")
    rows_before = len(idx.registry.row_id)
    await idx.upsert([dataclasses.replace(d, id=f"new{d.id}") for d in docs[:50]])
    await idx.refresh()
    assert len(idx.registry.row_id) == rows_before  # freed rows were reused
    assert len(await idx.lexical("item", 500)) == 140
    await idx.close()


async def test_auto_compaction_at_refresh(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path), DIM, GRAPH_ONLY)  # ratio 0.3, no minimum
    await idx.upsert(catalog())
    await idx.refresh()
    await idx.delete([f"d{i}" for i in range(50)], 1)
    await idx.refresh()
    assert idx.vectors.n_graph == 70


async def test_attribute_only_update_keeps_graph_node(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path), DIM, GRAPH_ONLY)
    await idx.upsert(catalog(20))
    await idx.refresh()
    await idx.upsert([dataclasses.replace(d, version=2, price=999.0) for d in catalog(20)])
    await idx.refresh()
    assert idx.vectors.n_graph == 20
    hits = await idx.vector(QUERY, 50, SearchFilter(price_min=900.0), "m1")
    assert len(hits) == 18
    await idx.close()


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_expired_tombstone_no_longer_blocks_an_older_version(tmp_path: Path) -> None:
    day = 86_400.0
    params = dataclasses.replace(GRAPH_ONLY, tombstone_retention_s=7 * day)
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), DIM, params)
    clock = idx.clock = _Clock(1.7e9)
    docs = catalog(4)
    await idx.upsert([dataclasses.replace(d, version=5) for d in docs])
    await idx.delete(["d0"], 5)
    clock.t += 2 * day
    await idx.delete(["d1"], 5)
    await idx.refresh()
    clock.t += 6 * day  # d0 deleted 8 days ago (expired), d1 6 days ago (live)
    rep = await idx.upsert([dataclasses.replace(d, version=3) for d in docs[:2]])
    assert rep.applied == 1 and rep.stale == ["d1"]
    await idx.refresh()
    assert idx.registry.tombstones == {"d1": delete_order(5)}  # kept as write orders
    assert (await idx.versions(["d0", "d1"])) == {"d0": 3}
    assert "d0" in (await idx.lexical("item", 10)).ids
    clock.t += 2 * day  # now d1's tombstone has expired too
    rep = await idx.upsert([dataclasses.replace(docs[1], version=1)])
    assert rep.applied == 1 and not idx.registry.tombstones
    await idx.close()


async def test_tombstone_times_and_retention_survive_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "ix")
    params = dataclasses.replace(GRAPH_ONLY, tombstone_retention_s=100.0)
    idx = EmbeddedIndex.create(path, DIM, params)
    idx.clock = _Clock(1000.0)
    await idx.upsert(catalog(3))
    await idx.delete(["d0", "d1"], 1)
    await idx.close()
    again = EmbeddedIndex.open(path)  # no params: the retention comes from meta.json
    assert again.params.tombstone_retention_s == 100.0
    assert again.registry.tombstone_at == {"d0": 1000.0, "d1": 1000.0}
    again.clock = _Clock(1050.0)
    assert (await again.upsert([catalog(1)[0]])).stale == ["d0"]  # still live
    again.clock = _Clock(1101.0)
    assert (await again.upsert([catalog(1)[0]])).applied == 1  # expired
    await again.close()


def test_registry_expiry_keeps_deletion_order() -> None:
    reg = RowRegistry()
    reg.remove("a", 1, now=10.0)
    reg.remove("b", 1, now=20.0)
    reg.remove("a", 2, now=30.0)  # deleted again: now the newest tombstone
    assert list(reg.tombstones) == ["b", "a"]
    assert reg.expire_tombstones(before=25.0) == 1
    assert reg.tombstones == {"a": 2} and reg.tombstone_at == {"a": 30.0}
    reg.put("a", reg.allocate("a"), 3)  # a newer write clears the tombstone
    assert reg.expire_tombstones(before=1e12) == 0 and not reg.tombstone_at


async def test_no_retention_keeps_tombstones(tmp_path: Path) -> None:
    params = dataclasses.replace(GRAPH_ONLY, tombstone_retention_s=None)
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), DIM, params)
    clock = idx.clock = _Clock(0.0)
    await idx.delete(["x"], 2)
    clock.t = 1e12
    assert (await idx.upsert([dataclasses.replace(catalog(1)[0], id="x")])).stale == ["x"]
    await idx.close()


def test_exact_rows_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    store = VectorStore(DIM, HnswParams())
    rows = np.arange(0, 400, 2, dtype=np.int64)
    store.add(rows, rng.standard_normal((len(rows), DIM)).astype(np.float32))
    q = rng.standard_normal(DIM).astype(np.float32)
    subset = rows[rng.random(len(rows)) < 0.3]
    got, scores = store.exact_rows(q, 10, subset)
    ref = subset[np.argsort(-(store.vecs[subset] @ q))[:10]]
    assert got.tolist() == ref.tolist()
    np.testing.assert_allclose(scores, store.vecs[got] @ q, rtol=1e-5, atol=1e-5)
    assert len(store.exact_rows(q, 500, subset)[0]) == len(subset)  # k > rows: all of them
    assert len(store.exact_rows(q, 10, np.zeros(0, np.int64))[0]) == 0


async def test_filter_rows_are_cached_until_a_write(tmp_path: Path) -> None:
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), DIM, GRAPH_ONLY)
    await idx.upsert(catalog())
    await idx.refresh()
    flt = FILTERS["brand"]
    rows = idx.attributes.rows(flt, "m1")
    assert idx.attributes.rows(flt, "m1") is rows  # cached
    mask, count = idx.attributes.mask(flt, "m1")
    assert rows.tolist() == np.flatnonzero(mask).tolist() and len(rows) == count == 48
    await idx.delete(["d0", "d2"], 1)  # d0 is m2; d2 is acme, m1
    await idx.refresh()
    assert len(idx.attributes.rows(flt, "m1")) == 47
    await idx.close()


async def test_brand_blocks_follow_brand_changes(tmp_path: Path) -> None:
    params = dataclasses.replace(GRAPH_ONLY, partition_max_share=1e9)  # always the blocks
    idx = EmbeddedIndex.create(str(tmp_path / "ix"), DIM, params)
    docs = catalog()
    await idx.upsert(docs)
    await idx.refresh()
    moved = [dataclasses.replace(d, version=2, brand="acme") for d in docs[1:40:4]]  # globex
    await idx.upsert(moved)
    await idx.delete(["d8"], 1)  # acme
    await idx.refresh()
    current = {d.id: d for d in docs if d.id != "d8"} | {d.id: d for d in moved}
    for brands in (("acme",), ("globex",), ("acme", "umbrella")):
        flt = SearchFilter(brands=brands)
        part, _ = idx.vector_search.route(flt, "m1") or (None, None)
        assert part is not None and part.name == "brand"
        hits = await idx.vector(QUERY, 200, flt, "m1")
        assert hits.ids == brute_vector(list(current.values()), QUERY, 200, flt, "m1")
    await idx.close()
