"""Tuning knobs of the OpenSearch backend: index layout, HNSW, bulk and retry policy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpenSearchParams:
    alias: str = "shopnow-items"  # searches and writes go through this alias
    shards: int = 1
    # copies of each shard: a count ("1"), or a range the cluster fits to its size ("0-1":
    # none on a single node, which cannot hold one, one as soon as a second node joins)
    replicas: str = "0-1"
    refresh_interval: str = "1s"  # a write is searchable within this (NRT)
    gc_deletes: str = "1d"  # how long a delete's version blocks an older re-create
    hnsw_m: int = 16
    hnsw_ef_construction: int = 128
    ef_search: int = 200  # candidates explored per kNN query (at least k)
    bulk_chunk: int = 1000  # docs per _bulk request ...
    # ... and at most this many bytes: aiohttp writes a body over 1 MiB in one blocking call
    # (and warns that it may stall the event loop), so requests stay under it.
    bulk_max_bytes: int = 1_000_000
    bulk_retries: int = 4  # retries of items rejected with 429 or a 5xx / transport error
    bulk_backoff_s: float = 0.5  # first retry wait; doubles each time
    bulk_max_backoff_s: float = 8.0
    request_timeout_s: float = 30.0  # per HTTP request (bulk, admin); searches pass their own
    search_timeout_s: float = 5.0
    pool_size: int = 16  # keep-alive connections to the cluster
