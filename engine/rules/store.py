"""The control store: merchandising rules and API keys in one SQLite file, with an audit log of
every change (who, when, the state before and after) from which any change can be rolled back.

SQLite in WAL mode: one writer at a time, readers never blocked, durable at each commit, shared
by every API worker of a machine. A change and its audit entry are one transaction: nothing is
half-saved. Workers notice changes by polling :meth:`ControlStore.revision` (the last audit
sequence number), a primary-key lookup.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from engine.rules.model import Rule, RuleBody

Role = Literal["client", "merchandiser", "admin"]
ROLES: tuple[Role, ...] = ("client", "merchandiser", "admin")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT
);
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, digest TEXT UNIQUE NOT NULL,
    created_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
"""


class Conflict(ValueError):
    """The change does not apply to the current state (unknown id, stale revision)."""


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    at: float
    actor: str
    action: str  # create, update, delete, rollback of #n, key create, key revoke
    kind: str  # rule, key
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "actor": self.actor,
            "action": self.action,
            "kind": self.kind,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    name: str
    role: Role


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ControlStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection, used from worker threads

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _audit(
        self,
        db: sqlite3.Connection,
        actor: str,
        action: str,
        kind: str,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> int:
        cur = db.execute(
            "INSERT INTO audit (at, actor, action, kind, target, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(),
                actor,
                action,
                kind,
                target,
                None if before is None else json.dumps(before),
                None if after is None else json.dumps(after),
            ),
        )
        return int(cur.lastrowid or 0)

    # -- reads ----------------------------------------------------------------------------
    def revision(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT max(seq) FROM audit").fetchone()
        return int(row[0] or 0)

    def rules(self) -> list[Rule]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM rules ORDER BY id").fetchall()
        return [Rule.model_validate_json(r[0]) for r in rows]

    def rule(self, rule_id: str) -> Rule | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM rules WHERE id = ?", (rule_id,)).fetchone()
        return None if row is None else Rule.model_validate_json(row[0])

    def history(self, target: str | None = None, limit: int = 100) -> list[Change]:
        sql = "SELECT seq, at, actor, action, kind, target, before, after FROM audit"
        args: tuple[Any, ...] = ()
        if target is not None:
            sql, args = sql + " WHERE target = ?", (target,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            Change(
                int(r[0]),
                float(r[1]),
                r[2],
                r[3],
                r[4],
                r[5],
                None if r[6] is None else json.loads(r[6]),
                None if r[7] is None else json.loads(r[7]),
            )
            for r in rows
        ]

    # -- rule changes ---------------------------------------------------------------------
    def put_rule(
        self, rule_id: str, body: RuleBody, actor: str, *, expect_revision: int | None = None
    ) -> Rule:
        """Create or replace; ``expect_revision``: refuse unless the stored rule is still at
        that revision (0: refuse unless it does not exist), so two editors cannot silently
        overwrite each other."""
        with self._tx() as db:
            before = self._stored(db, rule_id)
            have = 0 if before is None else before.revision
            if expect_revision is not None and expect_revision != have:
                raise Conflict(
                    f"rule {rule_id} is at revision {have}, not {expect_revision}: "
                    "reload it and apply the change again"
                )
            return self._write(db, rule_id, body, actor, "create" if before is None else "update")

    def _stored(self, db: sqlite3.Connection, rule_id: str) -> Rule | None:
        row = db.execute("SELECT body FROM rules WHERE id = ?", (rule_id,)).fetchone()
        return None if row is None else Rule.model_validate_json(row[0])

    def _write(
        self, db: sqlite3.Connection, rule_id: str, body: RuleBody, actor: str, action: str
    ) -> Rule:
        before = self._stored(db, rule_id)
        draft = Rule(**body.model_dump(), id=rule_id)
        seq = self._audit(
            db,
            actor,
            action,
            "rule",
            rule_id,
            None if before is None else before.model_dump(mode="json"),
            draft.model_dump(mode="json"),
        )
        rule = draft.model_copy(
            update={"revision": seq, "updated_at": datetime.now(UTC), "updated_by": actor}
        )
        db.execute("UPDATE audit SET after = ? WHERE seq = ?", (rule.model_dump_json(), seq))
        db.execute(
            "INSERT INTO rules (id, body, revision) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET body = excluded.body, revision = excluded.revision",
            (rule_id, rule.model_dump_json(), seq),
        )
        return rule

    def delete_rule(self, rule_id: str, actor: str) -> Rule:
        with self._tx() as db:
            return self._delete(db, rule_id, actor, "delete")

    def _delete(self, db: sqlite3.Connection, rule_id: str, actor: str, action: str) -> Rule:
        before = self._stored(db, rule_id)
        if before is None:
            raise Conflict(f"no rule {rule_id}")
        self._audit(db, actor, action, "rule", rule_id, before.model_dump(mode="json"), None)
        db.execute("DELETE FROM rules WHERE id = ?", (rule_id,))
        return before

    def rollback(self, seq: int, actor: str) -> Rule | None:
        """Undo change ``seq``: its rule goes back to the state before it (re-created, restored,
        or deleted), recorded as a change of its own. Returns the rule as it now is."""
        with self._tx() as db:
            row = db.execute(
                "SELECT kind, target, before FROM audit WHERE seq = ?", (seq,)
            ).fetchone()
            if row is None:
                raise Conflict(f"no change #{seq}")
            kind, target, before = row
            if kind != "rule":
                raise Conflict(f"change #{seq} is a {kind} change; only rule changes roll back")
            action = f"rollback of #{seq}"
            if before is None:  # it was created: delete it
                if self._stored(db, target) is None:
                    raise Conflict(f"rule {target} is already gone")
                self._delete(db, target, actor, action)
                return None
            body = RuleBody.model_validate(
                {k: v for k, v in json.loads(before).items() if k in RuleBody.model_fields}
            )
            return self._write(db, target, body, actor, action)

    # -- other changes --------------------------------------------------------------------
    def record(
        self,
        actor: str,
        action: str,
        kind: str,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> int:
        """An audit entry for a change kept elsewhere (catalog writes: the ingest log holds
        them; they are undone by writing a newer version, not rolled back here)."""
        with self._tx() as db:
            return self._audit(db, actor, action, kind, target, before, after)

    # -- API keys -------------------------------------------------------------------------
    def create_key(self, name: str, role: Role, actor: str) -> tuple[Key, str]:
        """A new key; the secret is returned once and only its digest is kept."""
        if role not in ROLES:
            raise Conflict(f"role {role!r} is not one of {', '.join(ROLES)}")
        key = Key(f"key-{secrets.token_hex(4)}", name, role)
        secret = f"snk_{secrets.token_urlsafe(24)}"
        with self._tx() as db:
            db.execute(
                "INSERT INTO keys (id, name, role, digest, created_at) VALUES (?, ?, ?, ?, ?)",
                (key.id, name, role, digest(secret), time.time()),
            )
            info = {"id": key.id, "name": name, "role": role}
            self._audit(db, actor, "key create", "key", key.id, None, info)
        return key, secret

    def ensure_key(self, secret: str, name: str, role: Role) -> Key:
        """The key with this secret (created, audited as by ``system``, if new): the
        bootstrap admin key from the settings."""
        found = self.key(secret)
        if found is not None:
            return found
        key = Key(f"key-{digest(secret)[:8]}", name, role)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO keys (id, name, role, digest, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key.id, name, role, digest(secret), time.time()),
            )
            info = {"id": key.id, "name": name, "role": role}
            self._audit(db, "system", "key create", "key", key.id, None, info)
        return key

    def key(self, secret: str) -> Key | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, role FROM keys WHERE digest = ? AND revoked = 0",
                (digest(secret),),
            ).fetchone()
        return None if row is None else Key(row[0], row[1], row[2])

    def keys(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, role, created_at, revoked FROM keys ORDER BY created_at"
            ).fetchall()
        return [
            {"id": r[0], "name": r[1], "role": r[2], "created_at": r[3], "revoked": bool(r[4])}
            for r in rows
        ]

    def revoke_key(self, key_id: str, actor: str) -> None:
        with self._tx() as db:
            row = db.execute("SELECT name, role, revoked FROM keys WHERE id = ?", (key_id,))
            got = row.fetchone()
            if got is None or got[2]:
                raise Conflict(f"no active key {key_id}")
            db.execute("UPDATE keys SET revoked = 1 WHERE id = ?", (key_id,))
            info = {"id": key_id, "name": got[0], "role": got[1]}
            self._audit(db, actor, "key revoke", "key", key_id, info, {**info, "revoked": True})
