"""Ids, versions and tombstones: which internal row holds the live version of each id.

Searches read the *committed* id -> row map; writes go to an overlay that :meth:`merge`
folds in at refresh. Versions are checked against the overlay first (writes are accepted or
refused immediately), and tombstones remember the version of every delete so that a late
upsert with an older or equal version stays deleted.

Tombstones are kept in deletion order with their wall-clock deletion time and expire after
a retention (:meth:`expire_tombstones`): a write older than the retention that arrives after
it is treated as new. Re-deleting an id moves its tombstone to the end, so expiry only looks
at the oldest entries.
"""

from __future__ import annotations

import numpy as np

_DELETED = -1


class RowRegistry:
    def __init__(self) -> None:
        self.committed: dict[str, int] = {}
        self.overlay: dict[str, int] = {}  # id -> row, or _DELETED
        self.tombstones: dict[str, int] = {}  # id -> version, in deletion order
        self.tombstone_at: dict[str, float] = {}  # id -> wall-clock deletion time (unix s)
        self.row_version = np.zeros(0, dtype=np.int64)
        self.row_id: list[str] = []
        self.free: list[int] = []
        # Bumped whenever a freed row is given to another id, so a reader caching something
        # per (row, stamp) notices the reuse. In memory only: starts at 0 on open.
        self.row_stamp = np.zeros(0, dtype=np.int64)

    def row(self, doc_id: str) -> int | None:
        """The row currently (including unrefreshed writes) holding ``doc_id``."""
        got = self.overlay.get(doc_id)
        if got is None:
            got = self.committed.get(doc_id)
        return None if got is None or got == _DELETED else got

    def version(self, doc_id: str) -> int | None:
        r = self.row(doc_id)
        return None if r is None else int(self.row_version[r])

    def floor(self, doc_id: str) -> int | None:
        """The version an incoming write must exceed (live version or tombstone)."""
        live = self.version(doc_id)
        tomb = self.tombstones.get(doc_id)
        if live is None:
            return tomb
        return live if tomb is None else max(live, tomb)

    def allocate(self, doc_id: str) -> int:
        if self.free:
            r = self.free.pop()
            self.row_id[r] = doc_id
            self.row_stamp[r] += 1
            return r
        r = len(self.row_id)
        self.row_id.append(doc_id)
        if r >= len(self.row_version):
            self._grow(max(1024, 2 * len(self.row_version)))
        return r

    def _grow(self, n: int) -> None:
        for name in ("row_version", "row_stamp"):
            old = getattr(self, name)
            grown = np.zeros(n, dtype=np.int64)
            grown[: len(old)] = old
            setattr(self, name, grown)

    def put(self, doc_id: str, row: int, version: int) -> None:
        self.overlay[doc_id] = row
        self.row_version[row] = version
        self.tombstones.pop(doc_id, None)
        self.tombstone_at.pop(doc_id, None)

    def remove(self, doc_id: str, version: int, now: float) -> None:
        """Delete ``doc_id`` at wall time ``now``: its tombstone remembers ``version``."""
        self.overlay[doc_id] = _DELETED
        self.tombstones.pop(doc_id, None)  # re-insert: keep the dicts in deletion order
        self.tombstone_at.pop(doc_id, None)
        self.tombstones[doc_id] = version
        self.tombstone_at[doc_id] = now

    def expire_tombstones(self, before: float) -> int:
        """Forget tombstones of deletions made before wall time ``before``; returns how many."""
        expired = []
        for doc_id, at in self.tombstone_at.items():  # oldest first
            if at >= before:
                break
            expired.append(doc_id)
        for doc_id in expired:
            del self.tombstones[doc_id], self.tombstone_at[doc_id]
        return len(expired)

    def merge(self) -> None:
        """Make overlay writes visible (called under the index's exclusive lock)."""
        for doc_id, r in self.overlay.items():
            if r == _DELETED:
                self.committed.pop(doc_id, None)
            else:
                self.committed[doc_id] = r
        self.overlay.clear()

    def visible_rows(self, ids: frozenset[str]) -> list[int]:
        return [r for r in (self.committed.get(i) for i in ids) if r is not None]

    # -- persistence (committed state only: the index refreshes before saving) ------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        ids = list(self.committed)
        tomb = list(self.tombstones)
        return {
            "reg_ids": np.array(ids, dtype=np.str_),
            "reg_rows": np.array([self.committed[i] for i in ids], dtype=np.int64),
            "reg_row_version": self.row_version[: len(self.row_id)],
            "reg_row_id": np.array(self.row_id, dtype=np.str_),
            "reg_tomb_ids": np.array(tomb, dtype=np.str_),
            "reg_tomb_versions": np.array([self.tombstones[i] for i in tomb], dtype=np.int64),
            "reg_tomb_times": np.array([self.tombstone_at[i] for i in tomb], dtype=np.float64),
            "reg_free": np.array(self.free, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], now: float) -> RowRegistry:
        """Load a saved registry; tombstones saved without a time (older format) get ``now``."""
        self = cls()
        ids = [str(i) for i in arrays["reg_ids"].tolist()]
        self.committed = dict(zip(ids, arrays["reg_rows"].tolist(), strict=True))
        tomb = [str(i) for i in arrays["reg_tomb_ids"].tolist()]
        self.tombstones = dict(zip(tomb, arrays["reg_tomb_versions"].tolist(), strict=True))
        times = arrays.get("reg_tomb_times")
        at = [now] * len(tomb) if times is None else [float(t) for t in times.tolist()]
        self.tombstone_at = dict(zip(tomb, at, strict=True))
        self.row_id = [str(i) for i in arrays["reg_row_id"].tolist()]
        self._grow(max(1024, len(self.row_id)))
        self.row_version[: len(self.row_id)] = arrays["reg_row_version"]
        self.free = [int(r) for r in arrays["reg_free"].tolist()]
        return self
