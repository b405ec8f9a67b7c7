"""Ids, versions and tombstones: which internal row holds the live version of each id.

Searches read the *committed* id -> row map; writes go to an overlay that :meth:`merge`
folds in at refresh. Versions are checked against the overlay first (writes are accepted or
refused immediately), and tombstones remember the version of every delete so that a late
upsert with an older or equal version stays deleted.
"""

from __future__ import annotations

import numpy as np

_DELETED = -1


class RowRegistry:
    def __init__(self) -> None:
        self.committed: dict[str, int] = {}
        self.overlay: dict[str, int] = {}  # id -> row, or _DELETED
        self.tombstones: dict[str, int] = {}
        self.row_version = np.zeros(0, dtype=np.int64)
        self.row_id: list[str] = []
        self.free: list[int] = []

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
            return r
        r = len(self.row_id)
        self.row_id.append(doc_id)
        if r >= len(self.row_version):
            grown = np.zeros(max(1024, 2 * len(self.row_version)), dtype=np.int64)
            grown[: len(self.row_version)] = self.row_version
            self.row_version = grown
        return r

    def put(self, doc_id: str, row: int, version: int) -> None:
        self.overlay[doc_id] = row
        self.row_version[row] = version
        self.tombstones.pop(doc_id, None)

    def remove(self, doc_id: str, version: int) -> None:
        self.overlay[doc_id] = _DELETED
        self.tombstones[doc_id] = version

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
            "reg_free": np.array(self.free, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RowRegistry:
        self = cls()
        ids = [str(i) for i in arrays["reg_ids"].tolist()]
        self.committed = dict(zip(ids, arrays["reg_rows"].tolist(), strict=True))
        tomb = [str(i) for i in arrays["reg_tomb_ids"].tolist()]
        self.tombstones = dict(zip(tomb, arrays["reg_tomb_versions"].tolist(), strict=True))
        self.row_id = [str(i) for i in arrays["reg_row_id"].tolist()]
        self.row_version = np.zeros(max(1024, len(self.row_id)), dtype=np.int64)
        self.row_version[: len(self.row_id)] = arrays["reg_row_version"]
        self.free = [int(r) for r in arrays["reg_free"].tolist()]
        return self
