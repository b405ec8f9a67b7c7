"""The control store: durable rules with an audit entry per change, in one transaction;
rollbacks of creates, updates and deletes; revision checks; keys kept as digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.rules.model import RuleBody
from engine.rules.store import Conflict, ControlStore


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
