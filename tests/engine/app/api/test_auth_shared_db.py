"""API keys checked against a shared control database that goes away: a key seen before
keeps working (its last answer stands), an unknown one is a 503 to retry, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.app.api import auth
from engine.app.api.auth import Keys
from engine.serving.rules.database import DatabaseUnavailable
from engine.serving.rules.store import ControlStore
from tests.servers import POSTGRES_URL, fresh_postgres_database, needs_postgres

pytestmark = needs_postgres
SECRET = "a-shared-secret-of-32-characters!"


@pytest.fixture
def database() -> Iterator[str]:
    """A new database on the test server, dropped afterwards."""
    with fresh_postgres_database("auth") as url:
        yield url


def test_a_key_seen_before_outlives_the_database(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    store = ControlStore(database, key_secret=SECRET)
    keys = Keys(store, admin_secret="the-configured-admin-key-0123456")
    key, secret = store.create_key("shop app", "client", "admin")
    assert keys.lookup(secret) == key
    monkeypatch.setattr(auth, "CACHE_S", -1.0)  # every entry is stale from now on
    assert keys.lookup(secret) == key  # looked up again, still there
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    assert keys.lookup(secret) == key  # the database is away: the last answer stands
    with pytest.raises(DatabaseUnavailable):
        keys.lookup("snk_never-seen-before")  # nothing to fall back on: the API says 503
    store.close()
