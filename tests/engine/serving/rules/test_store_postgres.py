"""The control store on PostgreSQL (a real server the test command starts): the conformance
suite on a fresh database per test, and a clear refusal without a shared key secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.serving.rules.database import DatabaseUnavailable
from engine.serving.rules.store import ControlStore
from tests.engine.serving.rules.conformance import ControlStoreConformance, Open, body
from tests.servers import POSTGRES_URL, fresh_postgres_database, needs_postgres

pytestmark = needs_postgres
SECRET = "a-shared-secret-of-32-characters!"


@pytest.fixture
def database() -> Iterator[str]:
    """A new database on the test server, dropped afterwards."""
    with fresh_postgres_database("t") as url:
        yield url


class TestPostgresControlStore(ControlStoreConformance):
    @pytest.fixture
    def open_store(self, database: str) -> Open:
        return lambda: ControlStore(database, key_secret=SECRET)


def test_a_shared_database_needs_the_shared_key_secret(database: str) -> None:
    with pytest.raises(ValueError, match="SHOPNOW_KEY_SECRET"):
        ControlStore(database)
    store = ControlStore(database, key_secret=SECRET)
    _, secret = store.create_key("app", "client", "admin")
    # another replica with another secret finds nothing: the secret is not in the database
    other = ControlStore(database, key_secret="b" * 32)
    assert other.key(secret) is None
    other.close()
    store.close()


def test_a_restarted_server_is_reconnected(database: str) -> None:
    """A connection the server closed (a restart, a failover) is opened again on next use,
    without failing the call."""
    import psycopg

    store = ControlStore(database, key_secret=SECRET)
    store.put_rule("r1", body("a"), "alice")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database.rsplit("/", 1)[1],),
        )
    assert [r.id for r in store.rules()] == ["r1"]  # reconnected, not failed
    store.put_rule("r2", body("b"), "bob")  # a change too
    assert store.revision() == store.history(limit=1)[0].seq
    store.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    from devtools.opensearch_node.process import free_port

    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    with pytest.raises(DatabaseUnavailable, match=r"control database at 127\.0\.0\.1"):
        ControlStore(url, key_secret=SECRET)


def test_a_lost_database_fails_fast_after_the_first_attempt(database: str) -> None:
    """Once a connection attempt failed, calls fail at once for a second instead of each
    waiting out a connect timeout."""
    import time

    import psycopg

    store = ControlStore(database, key_secret=SECRET)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{database.rsplit("/", 1)[1]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database.rsplit("/", 1)[1]}"')  # for the fixture
        admin.execute(f'ALTER DATABASE "{database.rsplit("/", 1)[1]}" ALLOW_CONNECTIONS false')
    try:
        with pytest.raises(DatabaseUnavailable):
            store.revision()
        t = time.perf_counter()
        with pytest.raises(DatabaseUnavailable, match="control database"):
            store.rules()
        assert time.perf_counter() - t < 0.5  # no second connect attempt
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database.rsplit("/", 1)[1]}" ALLOW_CONNECTIONS true')
        store.close()
