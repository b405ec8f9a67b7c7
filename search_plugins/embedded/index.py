"""EmbeddedIndex: the default in-process :class:`SearchIndex` (tantivy + faiss + numpy).

Layout of ``path``: ``tantivy/`` (the text index), ``state.npz`` (columns, ids, versions,
tombstones and the serialized HNSW graph) and ``meta.json``. Writes are staged and become
visible together (text, attributes, vectors) at :meth:`refresh`. ``save()`` (also run by
``close()`` and, when ``autosave_s`` is set, by ``refresh``) is the durability point: after a
crash, replay the ingest log from the last save; versions make that replay idempotent.

Blue/green, as on OpenSearch: :meth:`begin_generation` opens an empty index beside ``path``
(``<path>.next-<stamp>``) that live writes also reach, :meth:`fill` streams the rebuild into it
alone, and :meth:`promote` moves it into ``path`` and swaps it in under the exclusive lock, so
searches answer from the old generation until the new one is complete.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32
from engine.core.search import (
    WRITE_ORDER_SCHEME,
    Hits,
    IndexDoc,
    SearchFilter,
    UpsertReport,
    check_doc,
    delete_order,
    version_of,
    write_order,
)
from search_plugins.embedded._async import AsyncIndexMixin
from search_plugins.embedded._rwlock import RWLock
from search_plugins.embedded.attributes import AttributeColumns
from search_plugins.embedded.lexical import LexicalIndex
from search_plugins.embedded.params import EmbeddedParams
from search_plugins.embedded.registry import RowRegistry
from search_plugins.embedded.vector_search import VectorSearch
from search_plugins.embedded.vectors import HnswParams, VectorStore

_FORMAT = WRITE_ORDER_SCHEME  # 2: the registry holds write orders, not raw versions; 3: orders
# rank none < provisional < full vectors (protocol.write_order)


GENERATION_FILE = "GENERATION"


def generation_of(path: str, stamp: bool = False) -> str:
    """The id :meth:`EmbeddedIndex.create` gave the index in ``path`` (a copy keeps it, a
    rebuild gets a new one); "" for an index made before ids, which ``stamp`` gives one."""
    file = os.path.join(path, GENERATION_FILE)
    if os.path.isfile(file):
        with open(file) as f:
            return f.read().strip()
    if not stamp:
        return ""
    value = uuid.uuid4().hex
    with open(file, "w") as f:
        f.write(value + "\n")
    return value


@dataclass(frozen=True, slots=True)
class RowHits:
    """Lexical hits as internal rows: ``stamps[i]`` changes when row ``rows[i]`` is reused."""

    rows: npt.NDArray[np.int64]
    stamps: npt.NDArray[np.int64]
    scores: F32


@dataclass(slots=True)
class _Staged:
    category: int
    brand: int
    in_stock: bool
    price: float
    model: int
    vector: F32 | None  # a vector to add to the graph at refresh


class EmbeddedIndex(AsyncIndexMixin):
    """BM25 text, HNSW vectors and filter columns in one directory; see the module doc."""

    name = "embedded"

    def __init__(
        self,
        path: str,
        dim: int,
        params: EmbeddedParams,
        *,
        attributes: AttributeColumns,
        vectors: VectorStore,
        registry: RowRegistry,
    ) -> None:
        self.path, self.dim, self.params = path, dim, params
        self.attributes, self.vectors, self.registry = attributes, vectors, registry
        self.lexical_index = LexicalIndex(
            os.path.join(path, "tantivy"), params.writer_heap_mb, params.writer_threads
        )
        self._staged: dict[int, _Staged] = {}
        self._killed: set[int] = set()
        self._mutate = threading.Lock()  # serializes writers (upsert, delete, refresh, save)
        self._swap = RWLock()  # searches read; refresh swaps visible state exclusively
        self._last_save = time.monotonic()
        self._building: EmbeddedIndex | None = None  # generation being filled, also written to
        self.clock: Callable[[], float] = time.time  # wall clock of tombstones (tests swap it)
        self.vector_search = VectorSearch(
            attributes, vectors, params.partition_max_share, params.brand_blocks
        )

    @classmethod
    def create(cls, path: str, dim: int, params: EmbeddedParams | None = None) -> EmbeddedIndex:
        if os.path.exists(os.path.join(path, "meta.json")):
            raise FileExistsError(f"an index already exists in {path}")
        p = params or EmbeddedParams()
        os.makedirs(path, exist_ok=True)
        self = cls(
            path,
            dim,
            p,
            attributes=AttributeColumns(),
            vectors=VectorStore(dim, p.hnsw),
            registry=RowRegistry(),
        )
        self.save_sync()
        generation_of(path, stamp=True)
        return self

    @classmethod
    def open(cls, path: str, params: EmbeddedParams | None = None) -> EmbeddedIndex:
        with open(os.path.join(path, "meta.json")) as f:
            meta = json.load(f)
        if meta["format"] != _FORMAT:
            raise ValueError(
                f"{path}: index format {meta['format']}, this version reads {_FORMAT}; "
                "rebuild it with `shopnow index`"
            )
        p = params or EmbeddedParams(
            hnsw=HnswParams(**meta["hnsw"]),
            tombstone_retention_s=meta.get("tombstone_retention_s", 7 * 86_400.0),
        )
        dim = int(meta["dim"])
        with np.load(os.path.join(path, "state.npz"), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(
            path,
            dim,
            p,
            attributes=AttributeColumns.from_arrays(arrays),
            vectors=VectorStore.from_arrays(dim, p.hnsw, arrays),
            registry=RowRegistry.from_arrays(arrays, time.time()),
        )

    # -- writes ---------------------------------------------------------------------------
    def upsert_sync(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        applied, stale, failed = 0, [], {}
        with self._mutate:
            self._expire_tombstones()
            for doc in docs:
                reason = check_doc(doc, self.dim)
                if reason is not None:
                    failed[doc.id] = reason
                    continue
                floor = self.registry.floor(doc.id)
                if floor is not None and write_order(doc) <= floor:
                    stale.append(doc.id)
                    continue
                self._put(doc)
                applied += 1
            if self._building is not None:
                self._building.upsert_sync(docs)
        return UpsertReport(applied, stale, failed)

    def _put(self, doc: IndexDoc) -> None:
        reg, attrs = self.registry, self.attributes
        vec = None if doc.vector is None else np.asarray(doc.vector, dtype=np.float32)
        row = reg.row(doc.id)
        # Reuse the row unless the graph already holds a different vector for it (HNSW
        # cannot replace a vector in place): attribute-only updates stay cheap.
        if row is not None and vec is not None and self.vectors.in_graph_row(row):
            if self.vectors.same_as_graph(row, vec):
                vec = None  # already in the graph: only the attributes change
            else:
                self._kill(row)
                row = None
        if row is None:
            row = reg.allocate(doc.id)
        model = -1 if doc.vector is None else attrs.models.code(doc.vector_model)
        self._staged[row] = _Staged(
            attrs.category_code(doc.category),
            attrs.brands.code(doc.brand),
            doc.in_stock,
            float(doc.price),
            model,
            vec,
        )
        reg.put(doc.id, row, write_order(doc))
        self.lexical_index.put(
            doc.id, row, doc.text, doc.category, doc.brand, doc.in_stock, doc.price
        )

    def _kill(self, row: int) -> None:
        self._staged.pop(row, None)
        self._killed.add(row)

    def delete_sync(self, ids: Sequence[str], version: int) -> int:
        deleted = 0
        with self._mutate:
            now = self._expire_tombstones()
            order = delete_order(version)
            for doc_id in ids:
                live = self.registry.version(doc_id)
                tomb = self.registry.tombstones.get(doc_id)
                if tomb is not None and tomb >= order:
                    continue
                if live is not None and live > order:
                    continue
                row = self.registry.row(doc_id)
                self.registry.remove(doc_id, order, now)  # tombstone even if never seen
                if row is not None:
                    self._kill(row)
                    self.lexical_index.delete(doc_id)
                    deleted += 1
            if self._building is not None:
                self._building.delete_sync(ids, version)
        return deleted

    # -- blue/green -----------------------------------------------------------------------
    def begin_generation_sync(self, dim: int | None = None) -> str:
        """An empty generation beside this one (of ``dim``, default this one's); live writes
        reach it too from now on. Returns its name."""
        with self._mutate:
            if self._building is not None:
                raise RuntimeError(f"generation {self._building.path} is already being built")
            path = f"{self.path}.next-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 10**9}"
            self._building = EmbeddedIndex.create(path, dim or self.dim, replace(self.params))
            return os.path.basename(path)

    def fill_sync(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        """Write to the generation being built only (the rebuild's own stream); a doc that a
        live write already brought there in a newer version is stale."""
        building = self._building
        if building is None:
            raise RuntimeError("no generation is being built")
        return building.upsert_sync(docs)

    def promote_sync(self) -> str:
        """Make the generation being built this index: its directory replaces ``path`` and its
        state is swapped in while no search runs. Returns the new generation's name."""
        with self._mutate:
            new = self._building
            if new is None:
                raise RuntimeError("no generation is being built")
            name = os.path.basename(new.path)
            new.close_sync()  # saved: it is reopened at ``path`` below
            self._refresh_locked()
            # The old text writer finishes before its directory moves (searches keep their
            # reader over the moved files until the swap below).
            self.lexical_index.close()
            old = f"{self.path}.old-{name}"
            os.replace(self.path, old)
            os.replace(new.path, self.path)
            fresh = EmbeddedIndex.open(self.path, new.params)
            with self._swap.write():
                self.dim, self.params = fresh.dim, fresh.params
                self.attributes, self.vectors = fresh.attributes, fresh.vectors
                self.registry, self.lexical_index = fresh.registry, fresh.lexical_index
                self.vector_search = fresh.vector_search
                self._staged, self._killed = {}, set()
            self._building = None
            # the old generation's files go in the background: the caller swaps its models
            # right after this returns
            threading.Thread(target=shutil.rmtree, args=(old, True), daemon=True).start()
            return name

    def _expire_tombstones(self) -> float:
        """Drop tombstones past the retention (under ``_mutate``); returns the time used."""
        now = self.clock()
        retention = self.params.tombstone_retention_s
        if retention is not None:
            self.registry.expire_tombstones(now - retention)
        return now

    def refresh_sync(self) -> None:
        with self._mutate:
            self._expire_tombstones()
            self._refresh_locked()
            p = self.params
            if p.autosave_s is not None and time.monotonic() - self._last_save >= p.autosave_s:
                self._save_locked()

    def _refresh_locked(self) -> None:
        self.lexical_index.commit()  # slow part, searches keep the old reader meanwhile
        staged, killed = self._staged, self._killed
        self._staged, self._killed = {}, set()
        rows = np.fromiter(staged, dtype=np.int64, count=len(staged))
        cols = list(staged.values())
        new_vec = [i for i, s in enumerate(cols) if s.vector is not None]
        dead = np.fromiter(killed, dtype=np.int64, count=len(killed))
        with self._swap.write():
            self.lexical_index.reload()
            self.attributes.write(
                rows,
                np.array([s.category for s in cols], dtype=np.int64),
                np.array([s.brand for s in cols], dtype=np.int64),
                np.array([s.in_stock for s in cols], dtype=np.bool_),
                np.array([s.price for s in cols], dtype=np.float64),
                np.array([s.model for s in cols], dtype=np.int64),
            )
            self.attributes.kill(dead)
            if new_vec:
                vecs = np.stack([v for v in (cols[i].vector for i in new_vec) if v is not None])
                self.vectors.add(rows[new_vec], vecs)
            fresh = np.zeros(len(rows), dtype=np.bool_)
            fresh[new_vec] = True
            self.vector_search.refresh(rows, fresh, dead)
            self.registry.merge()
        in_graph = self.vectors.in_graph
        self.registry.free.extend(int(r) for r in dead if r >= len(in_graph) or not in_graph[r])
        if self._garbage() > max(
            self.params.compact_min, self.params.compact_ratio * self.vectors.n_graph
        ):
            self._compact_locked()

    def _live_vectors(self) -> np.ndarray:
        a = self.attributes
        return a.alive[: a.n] & (a.model[: a.n] >= 0)

    def _garbage(self) -> int:
        live = self._live_vectors()
        n = min(len(live), len(self.vectors.in_graph))
        return self.vectors.n_graph - int(np.count_nonzero(live[:n] & self.vectors.in_graph[:n]))

    def compact_sync(self) -> int:
        """Rebuild the HNSW graph without dead vectors; returns how many were dropped."""
        with self._mutate:
            self._refresh_locked()
            return self._compact_locked()

    def _compact_locked(self) -> int:
        graph, rows = self.vectors.build_without(self._live_vectors())
        with self._swap.write():
            freed = self.vectors.swap_graph(graph, rows)
        alive = self.attributes.alive
        self.registry.free.extend(int(r) for r in freed if not alive[r])
        return len(freed)

    def save_sync(self) -> None:
        with self._mutate:
            self._refresh_locked()
            self._save_locked()

    def _save_locked(self) -> None:
        arrays: dict[str, Any] = {}
        with self._swap.read():
            arrays.update(self.attributes.to_arrays())
            arrays.update(self.vectors.to_arrays())
            arrays.update(self.registry.to_arrays())
        tmp = os.path.join(self.path, "state.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, os.path.join(self.path, "state.npz"))
        meta = {
            "format": _FORMAT,
            "dim": self.dim,
            "hnsw": asdict(self.params.hnsw),
            "tombstone_retention_s": self.params.tombstone_retention_s,
        }
        with open(os.path.join(self.path, "meta.json.tmp"), "w") as f:
            json.dump(meta, f)
        os.replace(os.path.join(self.path, "meta.json.tmp"), os.path.join(self.path, "meta.json"))
        self._last_save = time.monotonic()

    # -- reads ----------------------------------------------------------------------------
    def _hits(self, rows: np.ndarray, scores: F32) -> Hits:
        return Hits(self.ids_of(rows), scores)

    def lexical_sync(self, query: str, k: int, flt: SearchFilter | None = None) -> Hits:
        with self._swap.read():
            rows, scores = self._lexical_rows(query, k, flt)
            return self._hits(rows, scores)

    def _lexical_rows(self, query: str, k: int, flt: SearchFilter | None) -> tuple[np.ndarray, F32]:
        rows, scores = self.lexical_index.search(query, k, flt)
        if len(rows):
            # guards a tantivy index ahead of the columns (reopened after a crash)
            ok = rows < self.attributes.n
            ok[ok] = self.attributes.alive[rows[ok]]
            rows, scores = rows[ok], scores[ok]
        return rows, scores

    # -- row-addressed reads (not part of SearchIndex; see engine.serving.sources.lexical) ---------
    def lexical_rows_sync(self, query: str, k: int, flt: SearchFilter | None = None) -> RowHits:
        """:meth:`lexical_sync` as internal rows with their reuse stamps, no id strings.

        A caller that maps ids to its own keys can cache the mapping per (row, stamp) and
        call :meth:`ids_of` only for rows it has not seen: at 3,000 hits over 1M items the
        per-hit id lookups cost more than the BM25 search itself.
        """
        with self._swap.read():
            rows, scores = self._lexical_rows(query, k, flt)
            return RowHits(rows, self.registry.row_stamp[rows], scores)

    async def lexical_rows(self, query: str, k: int, flt: SearchFilter | None = None) -> RowHits:
        return await asyncio.to_thread(self.lexical_rows_sync, query, k, flt)

    def ids_of(self, rows: np.ndarray) -> list[str]:
        """The ids held by internal ``rows`` (as returned by :meth:`lexical_rows`)."""
        return list(map(self.registry.row_id.__getitem__, rows.tolist()))

    def vector_sync(
        self, query: F32, k: int, flt: SearchFilter | None = None, model: str = ""
    ) -> Hits:
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (self.dim,):
            raise ValueError(f"query shape {q.shape} != ({self.dim},)")
        with self._swap.read():
            out = self.registry.visible_rows(flt.exclude_ids) if flt is not None else []
            rows, scores = self.vector_search.search(q, k, flt, model, out)
            return self._hits(rows, scores)

    def versions_sync(self, ids: Sequence[str]) -> dict[str, int]:
        with self._mutate:
            got = {i: self.registry.version(i) for i in ids}
        return {i: version_of(v) for i, v in got.items() if v is not None}

    def count_sync(self) -> int:
        with self._swap.read():
            return len(self.registry.committed)

    def close_sync(self) -> None:
        if self._building is not None:  # a rebuild never promoted is abandoned
            self._building.close_sync()
            shutil.rmtree(self._building.path, ignore_errors=True)
            self._building = None
        self.save_sync()
        self.lexical_index.close()

    async def begin_generation(self, dim: int | None = None) -> str:
        return await asyncio.to_thread(self.begin_generation_sync, dim)

    async def fill(self, docs: Sequence[IndexDoc]) -> UpsertReport:
        return await asyncio.to_thread(self.fill_sync, docs)

    async def promote(self) -> str:
        return await asyncio.to_thread(self.promote_sync)
