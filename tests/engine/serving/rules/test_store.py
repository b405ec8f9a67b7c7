"""The control store: durable rules with an audit entry per change, in one transaction;
rollbacks of creates, updates and deletes; revision checks; keys kept as digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.rules.model import RuleBody
from engine.serving.rules.store import Conflict, ControlStore


def body(item: str) -> RuleBody:
    return RuleBody(name=f"hide {item}", actions={"hide": [item]})


def test_changes_are_audited_durable_and_roll_back(tmp_path: Path) -> None:
    path = tmp_path / "control.sqlite3"
    store = ControlStore(path)
    a = store.put_rule("r1", body("a"), "alice")
    b = store.put_rule("r1", body("b"), "bob", expect_revision=a.revision)
    with pytest.raises(Conflict, match="revision"):
        store.put_rule("r1", body("c"), "carol", expect_revision=a.revision)
    store.delete_rule("r1", "dave")
    assert store.rule("r1") is None
    log = store.history("r1")
    assert [(c.action, c.actor) for c in log] == [
        ("delete", "dave"),
        ("update", "bob"),
        ("create", "alice"),
    ]
    assert log[1].before is not None and log[1].before["actions"]["hide"] == ["a"]
    assert log[1].after is not None and log[1].after["revision"] == b.revision
    store.close()

    again = ControlStore(path)  # durable: a restart reads the same state
    assert again.revision() == log[0].seq
    restored = again.rollback(log[0].seq, "erin")  # undo the delete
    assert restored is not None and restored.actions.hide == ["b"]
    back = again.rollback(log[1].seq, "erin")  # undo the update
    assert back is not None and back.actions.hide == ["a"]
    assert again.rollback(log[2].seq, "erin") is None  # undo the create: gone
    assert again.rules() == []
    with pytest.raises(Conflict, match="no change"):
        again.rollback(999, "erin")
    assert [c.action for c in again.history("r1")][:3] == [
        f"rollback of #{log[2].seq}",
        f"rollback of #{log[1].seq}",
        f"rollback of #{log[0].seq}",
    ]


def test_a_failed_change_leaves_nothing(tmp_path: Path) -> None:
    store = ControlStore(tmp_path / "c.sqlite3")
    store.put_rule("r1", body("a"), "alice")
    before = store.revision()
    with pytest.raises(Conflict):
        store.put_rule("r2", body("b"), "bob", expect_revision=7)
    with pytest.raises(Conflict):
        store.delete_rule("nope", "bob")
    assert store.revision() == before and [r.id for r in store.rules()] == ["r1"]


def test_keys_are_stored_as_digests_and_revoked(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    store = ControlStore(path)
    key, secret = store.create_key("shop app", "client", "admin")
    assert store.key(secret) == key and store.key("wrong") is None
    assert secret.encode() not in path.read_bytes()
    store.revoke_key(key.id, "admin")
    assert store.key(secret) is None
    with pytest.raises(Conflict):
        store.revoke_key(key.id, "admin")
    with pytest.raises(Conflict, match="role"):
        store.create_key("x", "owner", "admin")  # type: ignore[arg-type]


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
