"""Where the control store keeps its tables: one SQLite file (the embedded default, shared by
the API workers of one machine) or one PostgreSQL database (shared by every API replica of a
fleet). The store writes its SQL once, with ``?`` placeholders; each database runs it.

Both give the store the same two guarantees: a change and its audit entry commit together or
not at all, and changes are serialised (one writer at a time: SQLite's ``BEGIN IMMEDIATE``,
PostgreSQL's exclusive lock on the audit table, which plain reads do not wait for), so audit
sequence numbers follow commit order and a revision check cannot race another writer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]
RETRY_S = 1.0  # after a failed connection attempt, fail fast this long

_TABLES = """
CREATE TABLE IF NOT EXISTS rules (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, revision BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq {serial}, at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT
);
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, digest TEXT UNIQUE NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
"""


class DatabaseUnavailable(ConnectionError):
    """The control database cannot be reached, or the connection broke during a change
    (which then did not commit, or its outcome is unknown: read it back before repeating)."""


class Cursor(Protocol):
    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...


class Database(Protocol):
    where: str  # for messages: the file or the server

    def write(self) -> Any:
        """A context manager: one serialised transaction, yielding a :class:`Cursor`."""

    def read(self) -> Any:
        """A context manager yielding a :class:`Cursor` for reads outside a transaction."""

    def close(self) -> None: ...


class _SqliteCursor:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(self.db.execute(sql, tuple(args)).fetchall())

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.db.execute(sql, tuple(args)).fetchone()
        return row


class SqliteDatabase:
    """SQLite in WAL mode: readers never blocked, durable at each commit (``synchronous``
    FULL), one connection used from worker threads under a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.where = str(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_TABLES.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
        self._lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[_SqliteCursor]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteCursor(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[_SqliteCursor]:
        with self._lock:
            yield _SqliteCursor(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _PostgresCursor:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def _run(self, sql: str, args: Sequence[Any]) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), tuple(args))

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        cur = self._run(sql, args)
        return list(cur.fetchall()) if cur.description else []

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        cur = self._run(sql, args)
        row: Row | None = cur.fetchone() if cur.description else None
        return row


class PostgresDatabase:
    """One PostgreSQL connection (psycopg 3, autocommit for reads), used from worker threads
    under a lock; reconnected once when the server closed it (a restart or a failover)."""

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        import psycopg

        self.where = url.split("@")[-1]  # no credentials in messages
        self._url, self._timeout = url, timeout_s
        self._retry_at, self._last_error = 0.0, ""
        self._psycopg = psycopg
        self._lock = threading.Lock()
        self._conn = self._connect()
        with self._conn.transaction():
            # one schema creation at a time when several replicas start together
            self._conn.execute("SELECT pg_advisory_xact_lock(7304185)")
            for table in _TABLES.format(serial="BIGSERIAL PRIMARY KEY").split(";"):
                if table.strip():
                    self._conn.execute(table)

    def _connect(self) -> Any:
        """A new connection; after a failed attempt, for ``RETRY_S``, fail at once instead of
        waiting out another connect timeout (callers may hold a request meanwhile)."""
        now = time.monotonic()
        if now < self._retry_at:
            raise DatabaseUnavailable(f"control database at {self.where}: {self._last_error}")
        try:
            return self._psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=max(2, int(self._timeout)),
                # a statement the server does not finish in time fails instead of hanging
                options=f"-c statement_timeout={int(self._timeout * 1000)}",
            )
        except self._psycopg.OperationalError as exc:
            self._retry_at, self._last_error = time.monotonic() + RETRY_S, str(exc).strip()
            raise DatabaseUnavailable(f"control database at {self.where}: {exc}") from exc

    def _fresh(self) -> Any:
        """The connection, opened again if it is known to be closed."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _first(self, statement: str) -> Any:
        """Run ``statement`` (nothing written yet), once more on a new connection if the
        server had dropped the old one (a restart, a failover, an idle timeout)."""
        try:
            return self._fresh().execute(statement)
        except self._psycopg.OperationalError:
            self._conn.close()
            try:
                return self._fresh().execute(statement)
            except self._psycopg.OperationalError as exc:
                raise DatabaseUnavailable(f"control database at {self.where}: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[_PostgresCursor]:
        with self._lock:
            self._first("BEGIN")
            conn = self._conn
            try:
                conn.execute("LOCK TABLE audit IN EXCLUSIVE MODE")
                yield _PostgresCursor(conn)
                conn.execute("COMMIT")
            except self._psycopg.OperationalError as exc:
                raise DatabaseUnavailable(
                    f"control database at {self.where}: {exc} (the change may not be saved)"
                ) from exc
            except BaseException:
                if not (conn.closed or conn.broken):
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[_PostgresCursor]:
        """Reads (autocommit): the connection is checked first, so a read never fails on a
        connection the server dropped while it was idle."""
        with self._lock:
            self._first("SELECT 1")
            try:
                yield _PostgresCursor(self._conn)
            except self._psycopg.OperationalError as exc:
                raise DatabaseUnavailable(f"control database at {self.where}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(target: Path | str) -> Database:
    """A PostgreSQL URL (``postgresql://`` or ``postgres://``) or a SQLite file path."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(target)
    return SqliteDatabase(Path(target))
