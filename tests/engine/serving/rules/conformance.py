"""One behaviour suite for every control store database (SQLite, PostgreSQL).

A test module subclasses :class:`ControlStoreConformance` and provides ``open_store``: a
function that opens a :class:`ControlStore` on one fresh database, the same one at every call
(so a second call is a restart, or another replica sharing it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine.core.rules.model import RuleBody
from engine.serving.rules.store import Conflict, ControlStore

Open = Callable[[], ControlStore]


def body(item: str) -> RuleBody:
    return RuleBody(name=f"hide {item}", actions={"hide": [item]})


class ControlStoreConformance:
    """Subclasses provide an ``open_store`` fixture (see the module's docstring)."""

    def test_changes_are_audited_durable_and_roll_back(self, open_store: Open) -> None:
        store = open_store()
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

        again = open_store()  # durable: a restart reads the same state
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
        again.close()

    def test_a_failed_change_leaves_nothing(self, open_store: Open) -> None:
        store = open_store()
        store.put_rule("r1", body("a"), "alice")
        before = store.revision()
        with pytest.raises(Conflict):
            store.put_rule("r2", body("b"), "bob", expect_revision=7)
        with pytest.raises(Conflict):
            store.delete_rule("nope", "bob")
        assert store.revision() == before and [r.id for r in store.rules()] == ["r1"]
        store.close()

    def test_keys_are_stored_as_digests_and_revoked(self, open_store: Open) -> None:
        store = open_store()
        key, secret = store.create_key("shop app", "client", "admin")
        assert store.key(secret) == key and store.key("wrong") is None
        other = open_store()
        assert other.key(secret) == key  # another replica: the same server secret
        other.close()
        store.revoke_key(key.id, "admin")
        assert store.key(secret) is None
        with pytest.raises(Conflict):
            store.revoke_key(key.id, "admin")
        with pytest.raises(Conflict, match="role"):
            store.create_key("x", "owner", "admin")  # type: ignore[arg-type]
        listed = store.keys()
        assert [k["revoked"] for k in listed] == [True]
        assert [c.action for c in store.history(key.id)] == ["key revoke", "key create"]
        store.close()

    def test_two_replicas_writing_at_once_lose_nothing(self, open_store: Open) -> None:
        """Writers are serialised: each change gets its own audit number, a revision check
        sees the other replica's write, and both replicas read every change."""
        one, two = open_store(), open_store()
        errors: list[BaseException] = []

        def write(store: ControlStore, who: str) -> None:
            try:
                for i in range(20):
                    store.put_rule(f"{who}{i}", body(f"{who}{i}"), who)
            except BaseException as exc:  # reported below, with the thread's name
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(s, w)) for s, w in ((one, "a"), (two, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        seqs = [c.seq for c in one.history(limit=100)]
        assert len(seqs) == 40 and len(set(seqs)) == 40
        assert one.revision() == two.revision() == max(seqs)
        assert len(two.rules()) == 40
        latest = two.rule("a19")
        assert latest is not None
        with pytest.raises(Conflict, match="revision"):
            one.put_rule("a19", body("x"), "a", expect_revision=latest.revision - 1)
        one.close()
        two.close()
