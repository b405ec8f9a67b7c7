"""Live checks of the local OpenSearch node (``devtools.opensearch_node``).

Skipped unless ``SHOPNOW_TEST_OPENSEARCH_URL`` points at a running node, e.g.::

    python -m devtools.opensearch_node up --port 9250
    SHOPNOW_TEST_OPENSEARCH_URL=http://127.0.0.1:9250 pytest tests/search_plugins/
    python -m devtools.opensearch_node down
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from devtools.opensearch_node import NodeError, down, status, up
from tests.servers import OPENSEARCH_NODES, OPENSEARCH_URL, OPENSEARCH_URLS, needs_opensearch

URL = OPENSEARCH_URL
HOME = os.environ.get("SHOPNOW_TEST_OPENSEARCH_HOME", "")  # set by scripts/test.sh

DIM = 8
BRANDS = ("acme", "zeta")
TITLES = (
    "running shoes for men",
    "women's trail running shoe",
    "leather boots",
    "cotton running shorts",
    "waterproof hiking boots",
    "runner's water bottle",
    "wool socks",
    "canvas sneakers",
    "rain jacket",
    "trail runners",
)
MAPPING: dict[str, Any] = {
    "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        "properties": {
            "title": {"type": "text", "analyzer": "english"},
            "brand": {"type": "keyword"},
            "price": {"type": "float"},
            "vec": {
                "type": "knn_vector",
                "dimension": DIM,
                # the Maven k-NN zip has no native libraries: Lucene engine only
                "method": {"name": "hnsw", "engine": "lucene", "space_type": "innerproduct"},
            },
        }
    },
}


def _vectors() -> np.ndarray:
    vecs = np.random.default_rng(7).normal(size=(len(TITLES), DIM)).astype(np.float32)
    normed: np.ndarray = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    return normed


def _lucene_ip_score(ip: float) -> float:
    """How the Lucene engine turns an inner product into a (positive) score."""
    return 1.0 + ip if ip >= 0 else 1.0 / (1.0 - ip)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=URL, timeout=30.0) as c:
        health = c.get("/_cluster/health", params={"wait_for_status": "yellow", "timeout": "60s"})
        assert health.status_code == 200, health.text
        yield c


@pytest.fixture
def index(client: httpx.Client) -> Iterator[str]:
    name = f"shopnow-test-{uuid.uuid4().hex[:12]}"
    client.put(f"/{name}", json=MAPPING).raise_for_status()
    vecs = _vectors()
    lines = []
    for i, title in enumerate(TITLES):
        lines.append(json.dumps({"index": {"_index": name, "_id": str(i)}}))
        doc = {
            "title": title,
            "brand": BRANDS[i % 2],
            "price": 10.0 + 5 * i,
            "vec": vecs[i].tolist(),
        }
        lines.append(json.dumps(doc))
    resp = client.post(
        "/_bulk",
        content="\n".join(lines) + "\n",
        params={"refresh": "wait_for"},
        headers={"Content-Type": "application/x-ndjson"},
    )
    resp.raise_for_status()
    assert resp.json()["errors"] is False, resp.text
    try:
        yield name
    finally:
        client.delete(f"/{name}").raise_for_status()


@needs_opensearch
def test_cluster_health(client: httpx.Client) -> None:
    health = client.get("/_cluster/health").json()
    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] == OPENSEARCH_NODES
    names = {n["name"] for n in client.get("/_cat/nodes", params={"format": "json"}).json()}
    assert len(names) == OPENSEARCH_NODES


@needs_opensearch
def test_every_node_answers_for_the_cluster() -> None:
    """Each address of the test cluster is a member of the same cluster."""
    uuids = set()
    for url in OPENSEARCH_URLS.split(","):
        with httpx.Client(base_url=url, timeout=10.0) as c:
            uuids.add(c.get("/").raise_for_status().json()["cluster_uuid"])
    assert len(uuids) == 1


@needs_opensearch
def test_knn_plugin_and_modules_present(client: httpx.Client) -> None:
    plugins = {
        p["component"] for p in client.get("/_cat/plugins", params={"format": "json"}).json()
    }
    assert "opensearch-knn" in plugins
    node = next(iter(client.get("/_nodes/_local/plugins").json()["nodes"].values()))
    modules = {m["name"] for m in node["modules"]}
    assert {"lang-painless", "analysis-common"} <= modules


@needs_opensearch
def test_filtered_knn_and_bm25_round_trip(client: httpx.Client, index: str) -> None:
    vecs = _vectors()
    query = vecs[1]
    knn_filter = {
        "bool": {"filter": [{"term": {"brand": "acme"}}, {"range": {"price": {"lte": 45}}}]}
    }
    knn = {
        "size": 5,
        "query": {"knn": {"vec": {"vector": query.tolist(), "k": 5, "filter": knn_filter}}},
    }
    bm25 = {"size": 3, "query": {"match": {"title": "running shoes"}}}

    lexical = client.post(f"/{index}/_search", json=bm25).json()["hits"]["hits"]
    # english analyzer: "running"/"shoes" stem to "run"/"shoe", so docs 0 and 1 lead
    assert {h["_id"] for h in lexical[:2]} == {"0", "1"}

    hits = client.post(f"/{index}/_search", json=knn).json()["hits"]["hits"]
    allowed = [i for i in range(len(TITLES)) if BRANDS[i % 2] == "acme" and 10.0 + 5 * i <= 45]
    expected = sorted(allowed, key=lambda i: -float(vecs[i] @ query))[:5]
    assert [int(h["_id"]) for h in hits] == expected  # exact: filter leaves fewer than k docs
    for hit, i in zip(hits, expected, strict=True):
        assert hit["_score"] == pytest.approx(_lucene_ip_score(float(vecs[i] @ query)), rel=1e-4)

    body = "".join(json.dumps(x) + "\n" for x in ({"index": index}, bm25, {"index": index}, knn))
    multi = client.post(
        "/_msearch", content=body, headers={"Content-Type": "application/x-ndjson"}
    ).json()["responses"]
    assert [r["status"] for r in multi] == [200, 200]
    assert [h["_id"] for h in multi[0]["hits"]["hits"]] == [h["_id"] for h in lexical]
    assert [h["_id"] for h in multi[1]["hits"]["hits"]] == [h["_id"] for h in hits]


def test_status_and_down_of_an_empty_home(tmp_path: Path) -> None:
    assert status(tmp_path) is None
    assert down(tmp_path) is False


@needs_opensearch
@pytest.mark.skipif(not HOME, reason="the node's home is known when scripts/test.sh started it")
def test_up_on_a_running_home_returns_the_running_node() -> None:
    running = status(Path(HOME))
    assert running is not None and running.url == URL
    assert ",".join(running.urls or (running.url,)) == OPENSEARCH_URLS
    again = up(Path(HOME), 0, nodes=OPENSEARCH_NODES)
    assert (again.pid, again.port) == (running.pid, running.port)
    with pytest.raises(NodeError, match="already runs"):
        up(Path(HOME), 0, nodes=OPENSEARCH_NODES + 1)
