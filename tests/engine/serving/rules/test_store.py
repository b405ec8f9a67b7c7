"""The control store on SQLite: the conformance suite (tests/engine/serving/rules/conformance.py),
plus what only a file has: the key secret beside it, and the keys of older versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.serving.rules.store import ControlStore
from tests.engine.serving.rules.conformance import ControlStoreConformance, Open


class TestSqliteControlStore(ControlStoreConformance):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Open:
        return lambda: ControlStore(tmp_path / "control.sqlite3")


def test_a_key_secret_is_not_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    store = ControlStore(path)
    _, secret = store.create_key("shop app", "client", "admin")
    assert secret.encode() not in path.read_bytes()


def test_keys_are_keyed_digests_under_a_secret_outside_the_database(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    path = tmp_path / "c.sqlite3"
    store = ControlStore(path)
    key, secret = store.create_key("app", "client", "admin")
    (stored,) = sqlite3.connect(path).execute("SELECT digest FROM keys").fetchone()
    assert stored.startswith("hmac-sha256:")
    assert hashlib.sha256(secret.encode()).hexdigest() not in stored  # not the bare hash
    side = path.with_name(path.name + ".key-secret")
    assert side.stat().st_mode & 0o777 == 0o600 and len(side.read_bytes()) == 32
    assert ControlStore(path).key(secret) == key  # the same secret file after a restart
    # another server secret (a stolen database alone): the digest matches nothing
    assert ControlStore(path, key_secret="x" * 32).key(secret) is None
    assert ControlStore(path, key_secret="x" * 32).digest(secret) != store.digest(secret)


def test_keys_of_older_versions_still_work_and_move_to_keyed_digests(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    path = tmp_path / "c.sqlite3"
    store = ControlStore(path)
    db = sqlite3.connect(path)
    old = "snk_an-older-key-secret-0123456789"
    db.execute(
        "INSERT INTO keys (id, name, role, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        ("key-0ld", "legacy app", "merchandiser", hashlib.sha256(old.encode()).hexdigest(), 1.0),
    )
    db.commit()
    assert store.key(old) is not None and store.key(old).id == "key-0ld"  # type: ignore[union-attr]
    (stored,) = db.execute("SELECT digest FROM keys WHERE id = 'key-0ld'").fetchone()
    assert stored == store.digest(old)


def test_a_stored_bootstrap_key_of_an_older_version_is_retired(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    path = tmp_path / "c.sqlite3"
    store = ControlStore(path)
    admin = "the-old-configured-admin-key-123"
    digest = hashlib.sha256(admin.encode()).hexdigest()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO keys (id, name, role, digest, created_at) VALUES (?, ?, ?, ?, ?)",
        (f"key-{digest[:8]}", "bootstrap admin", "admin", digest, 1.0),
    )
    db.execute(
        "INSERT INTO audit (at, actor, action, kind, target) VALUES (1, 'system', "
        "'key create', 'key', ?)",
        (f"key-{digest[:8]}",),
    )
    db.commit()
    assert store.retire_stored_bootstrap() == [f"key-{digest[:8]}"]
    assert store.key(admin) is None
    assert store.history(limit=1)[0].action == "key retire"
    assert store.retire_stored_bootstrap() == []  # once
