"""The SearchIndex conformance suite against a live OpenSearch node, plus OpenSearch-only
behaviour: blue/green generations behind the alias, one-round-trip hybrid, bulk faults."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from devtools.opensearch_node.process import free_port
from engine.core.search import IndexUnavailable, SearchIndex, delete_order
from search_plugins.opensearch import IndexSetupError, OpenSearchIndex, OpenSearchParams
from search_plugins.opensearch.client import drop_alias, make_client
from tests.search_plugins.conformance import DIM, Reopen, SearchIndexConformance, catalog
from tests.servers import OPENSEARCH_NODES, OPENSEARCH_URL, OPENSEARCH_URLS, needs_opensearch

pytestmark = needs_opensearch


def params(**kw: object) -> OpenSearchParams:
    return OpenSearchParams(alias=f"t-{uuid.uuid4().hex[:12]}", **kw)  # type: ignore[arg-type]


async def drop(index: OpenSearchIndex) -> None:
    await drop_alias(OPENSEARCH_URL, index.params.alias)


class TestOpenSearchIndex(SearchIndexConformance):
    """On every node of the test cluster (three under scripts/test.sh, one replica each)."""

    @pytest.fixture
    async def index(self) -> AsyncIterator[OpenSearchIndex]:
        idx = await OpenSearchIndex.create(OPENSEARCH_URLS, DIM, params())
        assert isinstance(idx, SearchIndex)
        yield idx
        await drop(idx)
        await idx.close()

    @pytest.fixture
    def reopen(self) -> Reopen:
        async def again(index: SearchIndex) -> SearchIndex:
            assert isinstance(index, OpenSearchIndex)
            return await OpenSearchIndex.open(OPENSEARCH_URLS, index.params)

        return again


@pytest.fixture
async def live() -> AsyncIterator[OpenSearchIndex]:
    idx = await OpenSearchIndex.create(
        OPENSEARCH_URL, DIM, params(bulk_retries=3, bulk_backoff_s=0.2, bulk_max_backoff_s=0.4)
    )
    yield idx
    await drop(idx)
    await idx.close()


async def test_blue_green_reindex_keeps_serving(live: OpenSearchIndex) -> None:
    docs = catalog()
    await live.upsert(docs[:60])
    await live.refresh()
    old = await live.live_generation()
    new = await live.begin_generation()
    assert new != old and await live.generations() == sorted([old, new])
    # while the new generation fills, searches still answer from the old one ...
    assert (await live.lexical("17", 5)).ids == ["d17"]
    # a write that reached the new generation first keeps its newer version
    await live.client.index(
        index=new,
        id="d0",
        body={"id": "d0", "text": "x"},
        params={"version": delete_order(99), "version_type": "external"},  # above any v99 write
    )
    # ... and live writes go to both generations
    await live.upsert(docs[60:])
    await live.delete(["d3"], 1)
    await live.refresh()
    assert await live.count() == 119
    assert (await live.client.count(index=new))["count"] == 61  # d60..d119 and d0
    report = await live.fill(docs[:60])  # the rebuild streams the catalogue into `new` only
    assert report.applied == 58 and sorted(report.stale) == ["d0", "d3"]  # newer / deleted
    await live.promote(grace_s=0.3)
    assert await live.live_generation() == new
    # the old generation outlives the swap by a grace, for searches that resolved the alias
    # just before it
    assert await live.generations() == sorted([old, new])
    await asyncio.sleep(1.0)
    assert await live.generations() == [new]
    assert await live.count() == 119
    assert (await live.lexical("17", 5)).ids == ["d17"]
    assert await live.versions(["d0", "d3"]) == {"d0": 99}


async def test_new_dimension_needs_a_new_generation(live: OpenSearchIndex) -> None:
    with pytest.raises(IndexSetupError, match="16-dim"):
        await OpenSearchIndex.create(live.client, 32, live.params)
    await live.begin_generation(dim=32)
    await live.promote()
    reopened = await OpenSearchIndex.open(live.client, live.params)
    assert reopened.dim == 32 and live.dim == 32
    vec = np.ones(32, dtype=np.float32)
    report = await live.upsert([dataclasses.replace(catalog(1)[0], vector=vec)])
    assert report.applied == 1


async def test_an_older_write_order_scheme_is_refused_then_rebuilt(live: OpenSearchIndex) -> None:
    """Versions written in an older scheme do not compare with this one: serving refuses the
    alias with what to do, and a build (a new generation) replaces it."""
    old = await live.live_generation()
    await live.client.indices.put_mapping(index=old, body={"_meta": {"dim": DIM, "schema": 2}})
    with pytest.raises(IndexSetupError, match=r"write-order scheme 2.*rebuild it"):
        await OpenSearchIndex.open(live.client, live.params)
    build = await OpenSearchIndex.create(live.client, DIM, live.params)  # what `index` does
    await build.begin_generation(DIM)
    await build.fill(catalog(3))
    await build.promote()
    reopened = await OpenSearchIndex.open(live.client, live.params)
    assert await reopened.count() == 3


async def test_open_without_alias_says_so() -> None:
    with pytest.raises(IndexSetupError, match="no OpenSearch alias"):
        await OpenSearchIndex.open(OPENSEARCH_URL, params())


async def test_partly_failing_bulk_reports_each_failure(live: OpenSearchIndex) -> None:
    docs = catalog(4)
    immense = dataclasses.replace(docs[2], brand="b" * 40_000)  # a keyword term over 32 KB
    report = await live.upsert([docs[0], docs[1], immense, docs[3]])
    assert report.applied == 3 and list(report.failed) == ["d2"]
    assert "immense term" in report.failed["d2"] and not report.retryable
    await live.refresh()
    assert await live.versions([d.id for d in docs]) == {"d0": 1, "d1": 1, "d3": 1}


async def test_rejected_bulk_is_retried_until_accepted(live: OpenSearchIndex) -> None:
    gen = await live.live_generation()
    block = "index.blocks.read_only_allow_delete"  # writes get 429 while it is set
    await live.client.indices.put_settings(index=gen, body={block: True})

    async def lift() -> None:
        await asyncio.sleep(0.3)
        await live.client.indices.put_settings(index=gen, body={block: None})

    report, _ = await asyncio.gather(live.upsert(catalog(5)), lift())
    assert report.applied == 5 and not report.failed


async def test_bulk_still_rejected_after_retries_is_reported(live: OpenSearchIndex) -> None:
    gen = await live.live_generation()
    block = "index.blocks.read_only_allow_delete"
    await live.client.indices.put_settings(index=gen, body={block: True})
    try:
        report = await live.upsert(catalog(3))
    finally:
        await live.client.indices.put_settings(index=gen, body={block: None})
    assert report.applied == 0
    assert sorted(report.failed) == ["d0", "d1", "d2"]
    assert all(r.startswith("429 cluster_block_exception") for r in report.failed.values())
    assert report.retryable == {"d0", "d1", "d2"}


async def test_unreachable_cluster_reports_every_item() -> None:
    idx = OpenSearchIndex(
        make_client(f"http://127.0.0.1:{free_port()}", timeout_s=2.0),
        DIM,
        params(bulk_retries=1, bulk_backoff_s=0.05),
        owns_client=True,
    )
    try:
        report = await idx.upsert(catalog(3))
        assert report.applied == 0 and sorted(report.failed) == ["d0", "d1", "d2"]
        assert report.retryable == {"d0", "d1", "d2"}
        with pytest.raises(IndexUnavailable, match="lexical search"):
            await idx.lexical("item", 5)
    finally:
        await idx.close()


async def test_a_dead_address_in_the_list_is_passed_over() -> None:
    """With several addresses, a request that cannot reach one goes to the next."""
    dead = f"http://127.0.0.1:{free_port()}"
    idx = await OpenSearchIndex.create(f"{dead},{OPENSEARCH_URL}", DIM, params())
    try:
        report = await idx.upsert(catalog(5))
        assert report.applied == 5 and not report.failed
        await idx.refresh()
        for _ in range(3):  # whichever address a request starts from
            assert len(await idx.lexical("item", 5)) == 5
        assert await idx.count() == 5
    finally:
        await drop(idx)
        await idx.close()


async def test_replicas_follow_the_setting() -> None:
    """ "0-1" fits the cluster (a replica as soon as there are two nodes); a number is fixed."""
    auto = await OpenSearchIndex.create(OPENSEARCH_URLS, DIM, params(shards=2))
    fixed = await OpenSearchIndex.create(OPENSEARCH_URLS, DIM, params(replicas="0"))
    try:
        for idx, want in ((auto, min(1, OPENSEARCH_NODES - 1)), (fixed, 0)):
            got = await idx.client.indices.get_settings(index=idx.params.alias)
            index_settings = next(iter(got.values()))["settings"]["index"]
            shards = await idx.client.cat.shards(index=idx.params.alias, format="json")
            replicas = [s for s in shards if s["prirep"] == "r"]
            assert len(replicas) == want * int(index_settings["number_of_shards"])
        assert index_settings["auto_expand_replicas"] == "false"
    finally:
        for idx in (auto, fixed):
            await drop(idx)
            await idx.close()
