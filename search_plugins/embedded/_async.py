"""The async :class:`SearchIndex` face of the embedded index: each method runs its ``*_sync``
twin in a worker thread (numpy, faiss and tantivy release the GIL while they work)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from engine.core.arrays import F32
from engine.core.search import Hits, IndexDoc, SearchFilter, UpsertReport


class _SyncIndex(Protocol):
    def upsert_sync(self, docs: Sequence[IndexDoc]) -> UpsertReport: ...
    def delete_sync(self, ids: Sequence[str], version: int) -> int: ...
    def refresh_sync(self) -> None: ...
    def lexical_sync(self, query: str, k: int, flt: SearchFilter | None = None) -> Hits: ...
    def vector_sync(
        self, query: F32, k: int, flt: SearchFilter | None = None, model: str = ""
    ) -> Hits: ...
    def versions_sync(self, ids: Sequence[str]) -> dict[str, int]: ...
    def count_sync(self) -> int: ...
    def save_sync(self) -> None: ...
    def compact_sync(self) -> int: ...
    def close_sync(self) -> None: ...


class AsyncIndexMixin:
    """Mixed into a class providing the ``*_sync`` methods of :class:`_SyncIndex`."""

    async def upsert(self: _SyncIndex, docs: Sequence[IndexDoc]) -> UpsertReport:
        return await asyncio.to_thread(self.upsert_sync, docs)

    async def delete(self: _SyncIndex, ids: Sequence[str], version: int) -> int:
        return await asyncio.to_thread(self.delete_sync, ids, version)

    async def refresh(self: _SyncIndex) -> None:
        await asyncio.to_thread(self.refresh_sync)

    async def lexical(
        self: _SyncIndex, query: str, k: int, flt: SearchFilter | None = None
    ) -> Hits:
        return await asyncio.to_thread(self.lexical_sync, query, k, flt)

    async def vector(
        self: _SyncIndex,
        query: F32,
        k: int,
        flt: SearchFilter | None = None,
        model: str = "",
    ) -> Hits:
        return await asyncio.to_thread(self.vector_sync, query, k, flt, model)

    async def lexical_and_vector(
        self: _SyncIndex,
        query: str,
        vector: F32,
        k: int,
        flt: SearchFilter | None = None,
        model: str = "",
    ) -> tuple[Hits, Hits]:
        lex, vec = await asyncio.gather(
            asyncio.to_thread(self.lexical_sync, query, k, flt),
            asyncio.to_thread(self.vector_sync, vector, k, flt, model),
        )
        return lex, vec

    async def versions(self: _SyncIndex, ids: Sequence[str]) -> dict[str, int]:
        return await asyncio.to_thread(self.versions_sync, ids)

    async def count(self: _SyncIndex) -> int:
        return await asyncio.to_thread(self.count_sync)

    async def save(self: _SyncIndex) -> None:
        await asyncio.to_thread(self.save_sync)

    async def persist(self: _SyncIndex) -> None:
        """The embedded index is durable at its save point."""
        await asyncio.to_thread(self.save_sync)

    async def compact(self: _SyncIndex) -> int:
        return await asyncio.to_thread(self.compact_sync)

    async def close(self: _SyncIndex) -> None:
        await asyncio.to_thread(self.close_sync)
