"""Where the real servers started by the test command (``scripts/test.sh``) listen.

Outside CI a missing server skips the tests that need it, with a message saying how to get
one; under CI (``CI`` set) a missing server is an error, so nothing is silently skipped.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest

_HOW = "run the tests with `make test`, which starts {what}"


def _url(var: str, what: str) -> str:
    url = os.environ.get(var, "")
    if not url and os.environ.get("CI"):
        raise RuntimeError(f"CI must provide {var} (scripts/test.sh starts {what})")
    return url


REDIS_URL = _url("SHOPNOW_TEST_REDIS_URL", "redis-server")
# a primary, a replica and three sentinels (devtools.redis_sentinel), and its home
REDIS_SENTINEL_URL = _url("SHOPNOW_TEST_REDIS_SENTINEL_URL", "a Redis Sentinel group")
REDIS_SENTINEL_HOME = os.environ.get("SHOPNOW_TEST_REDIS_SENTINEL_HOME", "")
POSTGRES_URL = _url("SHOPNOW_TEST_POSTGRES_URL", "a PostgreSQL server")
OPENSEARCH_URL = _url("SHOPNOW_TEST_OPENSEARCH_URL", "an OpenSearch node")
# every node of the test cluster, comma-separated (scripts/test.sh starts three); the one node
# of OPENSEARCH_URL when the cluster is a single node
OPENSEARCH_URLS = os.environ.get("SHOPNOW_TEST_OPENSEARCH_URLS") or OPENSEARCH_URL
OPENSEARCH_NODES = len([u for u in OPENSEARCH_URLS.split(",") if u])

# the skip reasons start so; tests/conftest.py marks the tests that carry them `integration`
NO_REDIS, NO_OPENSEARCH, NO_POSTGRES = "no redis: ", "no OpenSearch: ", "no PostgreSQL: "

needs_redis = pytest.mark.skipif(not REDIS_URL, reason=NO_REDIS + _HOW.format(what="redis-server"))
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason=NO_POSTGRES + _HOW.format(what="a PostgreSQL server")
)
needs_sentinel = pytest.mark.skipif(
    not REDIS_SENTINEL_URL, reason=NO_REDIS + _HOW.format(what="a Redis Sentinel group")
)
needs_opensearch = pytest.mark.skipif(
    not OPENSEARCH_URL,
    reason=NO_OPENSEARCH
    + _HOW.format(what="a local node")
    + ", or set SHOPNOW_TEST_OPENSEARCH_URL (`shopnow opensearch up` starts one)",
)


def missing(reason: str) -> NoReturn:
    """Skip the calling test with ``reason``; under CI, fail it instead (nothing a CI run is
    meant to cover may be skipped silently)."""
    if os.environ.get("CI"):
        pytest.fail(f"under CI this must not be missing: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new database on the test PostgreSQL server, dropped afterwards (whoever
    is still connected, and whether connections were allowed meanwhile)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
