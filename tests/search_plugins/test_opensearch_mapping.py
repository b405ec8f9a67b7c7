"""The OpenSearch index settings and client addresses, without a node."""

from __future__ import annotations

import pytest

from search_plugins.opensearch.client import hosts, make_client
from search_plugins.opensearch.mapping import replicas, settings
from search_plugins.opensearch.params import OpenSearchParams


def test_replicas_are_a_count_or_a_range_fitted_to_the_cluster() -> None:
    assert replicas("2") == {"number_of_replicas": 2, "auto_expand_replicas": False}
    assert replicas("0-1") == {"auto_expand_replicas": "0-1"}
    assert replicas("1-all") == {"auto_expand_replicas": "1-all"}
    index = settings(OpenSearchParams(shards=6, replicas="1"))["index"]
    assert (index["number_of_shards"], index["number_of_replicas"]) == (6, 1)


def test_several_addresses_make_one_client_that_retries_only_unreachable_nodes() -> None:
    assert hosts(" http://a:9200, http://b:9200 ,") == ["http://a:9200", "http://b:9200"]
    with pytest.raises(ValueError, match="no OpenSearch address"):
        hosts(" , ")
    client = make_client("http://a:9200,http://b:9200,http://c:9200")
    transport = client.transport
    assert len(transport.hosts) == 3  # connections open on first use
    assert transport.max_retries == 2  # a connection failure tries each other node once
    assert not transport.retry_on_timeout and transport.retry_on_status == ()
