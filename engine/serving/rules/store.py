"""The control store: merchandising rules and API keys in one SQLite file, with an audit log of
every change (who, when, the state before and after) from which any change can be rolled back.

API keys are kept as keyed digests (HMAC-SHA256 under a server secret that is not in the
database: ``SHOPNOW_KEY_SECRET``, or a file beside the database made on first use, mode 600), so
a copy of the database does not allow offline guessing of secrets. Key ids are random and say
nothing about the secret. The bootstrap admin key is not stored at all: it is the configured
``SHOPNOW_ADMIN_KEY`` (see :mod:`engine.app.api.auth`).

The tables live in SQLite (one file, shared by every API worker of a machine: the default) or
in PostgreSQL (one database, shared by every API replica of a fleet: ``SHOPNOW_CONTROL_URL``);
:mod:`.database` runs the same SQL on either. One writer at a time, readers never blocked,
durable at each commit. A change and its audit entry are one transaction: nothing is
half-saved. Workers and replicas notice changes by polling :meth:`ControlStore.revision` (the
last audit sequence number).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from engine.core.rules.model import STORED, Rule, RuleBody
from engine.serving.rules.database import Cursor, open_database

log = logging.getLogger("shopnow.rules")
Role = Literal["client", "merchandiser", "admin"]
ROLES: tuple[Role, ...] = ("client", "merchandiser", "admin")


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


HMAC = "hmac-sha256:"  # prefix of keyed digests; older rows hold a bare SHA-256 hex digest
LEGACY_BOOTSTRAP = "bootstrap admin"  # the name older versions stored the settings' key under


def server_secret(path: Path, configured: str | None) -> bytes:
    """The HMAC key of API key digests: the configured one (several machines sharing one
    control database must share it), else one made once beside the database, mode 600."""
    if configured:
        return configured.encode()
    file = path.with_name(path.name + ".key-secret")
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return file.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
        f.flush()
        os.fsync(f.fileno())
    return file.read_bytes()


def _given(secret: str | None) -> bytes:
    assert secret is not None
    return secret.encode()


class ControlStore:
    def __init__(self, target: Path | str, *, key_secret: str | None = None) -> None:
        """``target``: a SQLite file, or a PostgreSQL URL (which needs ``key_secret``: the
        replicas sharing the database must share it, and it must not live in the database)."""
        shared = isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))
        if shared and not key_secret:
            raise ValueError(
                "a shared control database needs SHOPNOW_KEY_SECRET (32 characters or more), "
                "the same on every replica"
            )
        self.path = None if shared else Path(target)
        self._secret = server_secret(self.path, key_secret) if self.path else _given(key_secret)
        self._db = open_database(target)

    def close(self) -> None:
        self._db.close()

    def _audit(
        self,
        db: Cursor,
        actor: str,
        action: str,
        kind: str,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> int:
        row = db.one(
            "INSERT INTO audit (at, actor, action, kind, target, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
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
        assert row is not None
        return int(row[0])

    # -- reads ----------------------------------------------------------------------------
    def revision(self) -> int:
        with self._db.read() as db:
            row = db.one("SELECT max(seq) FROM audit")
        return int(row[0] or 0) if row else 0

    def rules(self) -> list[Rule]:
        with self._db.read() as db:
            rows = db.rows("SELECT body FROM rules ORDER BY id")
        return [Rule.model_validate_json(r[0], context=STORED) for r in rows]

    def rule(self, rule_id: str) -> Rule | None:
        with self._db.read() as db:
            row = db.one("SELECT body FROM rules WHERE id = ?", (rule_id,))
        return None if row is None else Rule.model_validate_json(row[0], context=STORED)

    def history(self, target: str | None = None, limit: int = 100) -> list[Change]:
        sql = "SELECT seq, at, actor, action, kind, target, before, after FROM audit"
        args: tuple[Any, ...] = ()
        if target is not None:
            sql, args = sql + " WHERE target = ?", (target,)
        with self._db.read() as db:
            rows = db.rows(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
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
        with self._db.write() as db:
            before = self._stored(db, rule_id)
            have = 0 if before is None else before.revision
            if expect_revision is not None and expect_revision != have:
                raise Conflict(
                    f"rule {rule_id} is at revision {have}, not {expect_revision}: "
                    "reload it and apply the change again"
                )
            return self._write(db, rule_id, body, actor, "create" if before is None else "update")

    def _stored(self, db: Cursor, rule_id: str) -> Rule | None:
        row = db.one("SELECT body FROM rules WHERE id = ?", (rule_id,))
        return None if row is None else Rule.model_validate_json(row[0], context=STORED)

    def _write(self, db: Cursor, rule_id: str, body: RuleBody, actor: str, action: str) -> Rule:
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
        db.rows("UPDATE audit SET after = ? WHERE seq = ?", (rule.model_dump_json(), seq))
        db.rows(
            "INSERT INTO rules (id, body, revision) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET body = excluded.body, revision = excluded.revision",
            (rule_id, rule.model_dump_json(), seq),
        )
        return rule

    def delete_rule(self, rule_id: str, actor: str) -> Rule:
        with self._db.write() as db:
            return self._delete(db, rule_id, actor, "delete")

    def _delete(self, db: Cursor, rule_id: str, actor: str, action: str) -> Rule:
        before = self._stored(db, rule_id)
        if before is None:
            raise Conflict(f"no rule {rule_id}")
        self._audit(db, actor, action, "rule", rule_id, before.model_dump(mode="json"), None)
        db.rows("DELETE FROM rules WHERE id = ?", (rule_id,))
        return before

    def rollback(self, seq: int, actor: str) -> Rule | None:
        """Undo change ``seq``: its rule goes back to the state before it (re-created, restored,
        or deleted), recorded as a change of its own. Returns the rule as it now is."""
        with self._db.write() as db:
            row = db.one("SELECT kind, target, before FROM audit WHERE seq = ?", (seq,))
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
            state = {k: v for k, v in json.loads(before).items() if k in RuleBody.model_fields}
            try:  # checked as a new write: a pattern RE2 cannot compile is not restored
                body = RuleBody.model_validate(state)
            except ValidationError as exc:
                raise Conflict(
                    f"change #{seq} cannot be rolled back: the rule it restores is not valid "
                    f"now: {exc.errors()[0]['msg']}"
                ) from None
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
        with self._db.write() as db:
            return self._audit(db, actor, action, kind, target, before, after)

    # -- API keys -------------------------------------------------------------------------
    def create_key(self, name: str, role: Role, actor: str) -> tuple[Key, str]:
        """A new key; the secret is returned once and only its digest is kept."""
        if role not in ROLES:
            raise Conflict(f"role {role!r} is not one of {', '.join(ROLES)}")
        key = Key(f"key-{secrets.token_hex(4)}", name, role)
        secret = f"snk_{secrets.token_urlsafe(24)}"
        with self._db.write() as db:
            db.rows(
                "INSERT INTO keys (id, name, role, digest, created_at) VALUES (?, ?, ?, ?, ?)",
                (key.id, name, role, self.digest(secret), time.time()),
            )
            info = {"id": key.id, "name": name, "role": role}
            self._audit(db, actor, "key create", "key", key.id, None, info)
        return key, secret

    def digest(self, secret: str) -> str:
        """The keyed digest a key is stored and looked up under."""
        mac = hmac.new(self._secret, secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return HMAC + mac.hexdigest()

    def key(self, secret: str) -> Key | None:
        """The active key with this secret. A key stored by an older version under a bare
        SHA-256 digest is found once that way and moved to the keyed digest."""
        keyed = self.digest(secret)
        with self._db.read() as db:
            row = db.one(
                "SELECT id, name, role FROM keys WHERE digest = ? AND revoked = 0", (keyed,)
            )
        if row is not None:
            return Key(row[0], row[1], row[2])
        legacy = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
        with self._db.write() as db:
            row = db.one(
                "SELECT id, name, role FROM keys WHERE digest = ? AND revoked = 0", (legacy,)
            )
            if row is not None:
                db.rows("UPDATE keys SET digest = ? WHERE id = ?", (keyed, row[0]))
        return None if row is None else Key(row[0], row[1], row[2])

    def retire_stored_bootstrap(self) -> list[str]:
        """Older versions stored the configured admin key (``SHOPNOW_ADMIN_KEY``) as a key row
        created by ``system``, so changing the setting left the old value working. Those rows
        are revoked, audited; the configured key is checked against the settings only."""
        with self._db.write() as db:
            rows = db.rows(
                "SELECT DISTINCT k.id, k.name, k.role FROM keys k JOIN audit a ON a.target = k.id "
                "AND a.kind = 'key' AND a.action = 'key create' AND a.actor = 'system' "
                "WHERE k.revoked = 0 AND k.name = ?",
                (LEGACY_BOOTSTRAP,),
            )
            for key_id, name, role in rows:
                db.rows("UPDATE keys SET revoked = 1 WHERE id = ?", (key_id,))
                info = {"id": key_id, "name": name, "role": role}
                after = {**info, "revoked": True}
                self._audit(db, "system", "key retire", "key", key_id, info, after)
        if rows:
            log.warning(
                "retired %d stored bootstrap key(s); SHOPNOW_ADMIN_KEY is checked", len(rows)
            )
        return [r[0] for r in rows]

    def keys(self) -> list[dict[str, Any]]:
        with self._db.read() as db:
            rows = db.rows(
                "SELECT id, name, role, created_at, revoked FROM keys ORDER BY created_at"
            )
        return [
            {"id": r[0], "name": r[1], "role": r[2], "created_at": r[3], "revoked": bool(r[4])}
            for r in rows
        ]

    def revoke_key(self, key_id: str, actor: str) -> None:
        with self._db.write() as db:
            got = db.one("SELECT name, role, revoked FROM keys WHERE id = ?", (key_id,))
            if got is None or got[2]:
                raise Conflict(f"no active key {key_id}")
            db.rows("UPDATE keys SET revoked = 1 WHERE id = ?", (key_id,))
            info = {"id": key_id, "name": got[0], "role": got[1]}
            self._audit(db, actor, "key revoke", "key", key_id, info, {**info, "revoked": True})
