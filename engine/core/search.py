"""The search-index protocol: one index holding BM25 text, dense vectors and filter attributes.

Every backend (embedded, OpenSearch) implements :class:`SearchIndex` and runs the same
conformance suite in ``tests/search_plugins/conformance.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from engine.core.arrays import F32


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """What the index stores for one item: searchable text, filter attributes, a vector."""

    id: str
    version: int
    text: str
    category: str  # full path "a/b/c"; filters match any prefix level
    brand: str
    seller_id: str
    price: float
    in_stock: bool
    created_at: float  # unix seconds
    vector: F32 | None = None
    vector_model: str = ""  # model version that produced ``vector``
    provisional: bool = False  # ``vector`` saw the attributes only, not the text (yet)


WRITE_ORDER_SCHEME = 3  # documents and tombstones of an older scheme must be rebuilt


def write_order(doc: IndexDoc) -> int:
    """Which of two writes of one id wins: the higher version, and at equal versions the
    better vector: none < provisional (from attributes, before the text is embedded) < full.
    A new item is so written at once for lexical search with a provisional vector, and again,
    same version, once the vector lane of ``engine/serving/writes.py`` has the full one, while an
    older
    write arriving late still loses."""
    quality = 0 if doc.vector is None else 1 if doc.provisional else 2
    return 3 * doc.version + quality


def delete_order(version: int) -> int:
    """A delete of ``version`` wins over every write of that version."""
    return 3 * version + 2


def version_of(order: int) -> int:
    return order // 3


def check_doc(doc: IndexDoc, dim: int) -> str | None:
    """Why a backend must refuse ``doc`` (reported per id, never raised), or None."""
    if not doc.id:
        return "empty id"
    if doc.vector is not None:
        v = np.asarray(doc.vector)
        if v.shape != (dim,):
            return f"vector shape {v.shape} != ({dim},)"
        if not np.isfinite(v).all():
            return "vector has non-finite values"
    return None


def category_prefixes(path: str) -> list[str]:
    """``"a/b/c"`` -> ``["a", "a/b", "a/b/c"]`` (empty levels dropped): what a filter can name."""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Conjunction of attribute constraints. ``None`` means unconstrained."""

    categories: tuple[str, ...] | None = None  # any of these path prefixes
    brands: tuple[str, ...] | None = None
    in_stock: bool | None = None
    price_min: float | None = None
    price_max: float | None = None
    exclude_ids: frozenset[str] = field(default_factory=frozenset)

    def is_empty(self) -> bool:
        return (
            self.categories is None
            and self.brands is None
            and self.in_stock is None
            and self.price_min is None
            and self.price_max is None
            and not self.exclude_ids
        )


@dataclass(frozen=True, slots=True)
class Hits:
    """Top-k result as columns, best first. ``missing`` says why some of the index did not
    answer (a cluster's shards with no live copy, or past their time): the hits come from the
    rest, and the request that used them is flagged degraded. Empty when all answered."""

    ids: list[str]
    scores: F32
    missing: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def empty() -> Hits:
        return Hits([], np.zeros(0, dtype=np.float32))


@dataclass(frozen=True, slots=True)
class UpsertReport:
    applied: int
    stale: list[str]  # ids whose incoming version was not newer than the stored one
    failed: dict[str, str]  # id -> reason
    retryable: frozenset[str] = frozenset()  # failed ids worth sending again later (transient)


class IndexUnavailable(ConnectionError):
    """The backend cannot be reached or did not answer in time; the call may be retried."""


@runtime_checkable
class SearchIndex(Protocol):
    """Narrow protocol shared by the embedded and OpenSearch backends."""

    name: str

    async def upsert(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        """Insert or replace by id; a doc that does not come after the stored one in
        :func:`write_order` is stale."""
        ...

    async def delete(self, ids: Sequence[str], version: int) -> int:
        """Delete ids whose stored version is <= ``version``; returns how many were deleted."""
        ...

    async def refresh(self) -> None:
        """Make all accepted writes visible to searches."""
        ...

    async def persist(self) -> None:
        """Make all accepted writes durable: a crash of this process after it returns loses
        none of them (the ingest checkpoint advances only past persisted changes)."""
        ...

    async def lexical(self, query: str, k: int, flt: SearchFilter | None = None) -> Hits:
        """BM25 top-k over the text, restricted to documents passing ``flt``."""
        ...

    async def vector(
        self, query: F32, k: int, flt: SearchFilter | None = None, model: str = ""
    ) -> Hits:
        """Inner-product top-k; only vectors of ``model`` when given; filtered like Lucene."""
        ...

    async def lexical_and_vector(
        self,
        query: str,
        vector: F32,
        k: int,
        flt: SearchFilter | None = None,
        model: str = "",
    ) -> tuple[Hits, Hits]:
        """Both searches of a hybrid query, in one round trip where the backend allows."""
        ...

    async def versions(self, ids: Sequence[str]) -> dict[str, int]:
        """Stored version of each id that exists."""
        ...

    async def count(self) -> int: ...

    async def begin_generation(self, dim: int | None = None) -> str:
        """Blue/green rebuild: an empty generation beside the live one (vectors of ``dim``,
        default the live one's); from now on live writes and deletes reach both. Searches
        keep answering from the live one. Returns the new generation's name."""
        ...

    async def fill(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        """Write to the generation being built only; a doc older than what live writes
        brought there is stale."""
        ...

    async def promote(self) -> str:
        """Serve the generation being built from now on, atomically for searches; the old
        one is dropped. Returns its name."""
        ...

    async def close(self) -> None: ...
