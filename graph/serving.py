"""The graph model as the engine serves it: item vectors aligned to catalog rows, user vectors
by user id, the content map for new items and the live bought-together graph.

Item vectors come from LightGCN for items that were in its training graph and from the
:class:`~graph.inductive.ContentMap` for the others (new items at ingest, via :meth:`ensure`).
A user's query vector is the LightGCN user vector when the user was trained, plus the
recency-weighted mean of the vectors of the items in the session and recent history; anonymous
and weak-history users get the latter alone. Writes replace arrays instead of mutating them, so
a request reading them concurrently sees a consistent state.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog
from engine.core.pipeline.context import RequestContext
from engine.core.retrieval.exact import top_k
from graph.cooccurrence import Events, ItemGraph, load_item_graph, save_item_graph
from graph.inductive import ContentMap

#: Live users' keys in the bought-together graph start here, far above training user ids.
LIVE_USER_BASE = 1 << 40

#: Seed weights of history kinds for bought-together (view, click, cart, purchase).
SEED_KIND_WEIGHT = np.array([0.0, 0.2, 1.0, 3.0], np.float32)


@dataclass(frozen=True, slots=True)
class GraphModel:
    """What `shopnow train-graph` writes (``<model_dir>/graph``)."""

    version: str
    item_ids: list[str]
    item_vectors: F32
    user_ids: list[str]
    user_vectors: F32
    content_map: ContentMap
    item_graph: ItemGraph  # indexed by catalog row at training time
    meta: dict[str, object]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "vectors.npz",
            item_ids=np.asarray(self.item_ids),
            item_vectors=self.item_vectors,
            user_ids=np.asarray(self.user_ids),
            user_vectors=self.user_vectors,
        )
        self.content_map.save(directory / "content_map.npz")
        save_item_graph(self.item_graph, directory / "item_graph.npz")
        (directory / "meta.json").write_text(
            json.dumps({"version": self.version, **self.meta}, indent=2)
        )

    @classmethod
    def load(cls, directory: Path) -> GraphModel:
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no graph model under {directory}; run `shopnow train-graph`")
        meta = json.loads(meta_path.read_text())
        with np.load(directory / "vectors.npz") as z:
            item_ids = [str(s) for s in z["item_ids"]]
            user_ids = [str(s) for s in z["user_ids"]]
            iv, uv = z["item_vectors"].astype(np.float32), z["user_vectors"].astype(np.float32)
        return cls(
            str(meta.pop("version")),
            item_ids,
            iv,
            user_ids,
            uv,
            ContentMap.load(directory / "content_map.npz"),
            load_item_graph(directory / "item_graph.npz"),
            meta,
        )


class GraphServing:
    def __init__(self, model: GraphModel, catalog: Catalog) -> None:
        self.version = model.version
        self.content_map = model.content_map
        self.item_graph = model.item_graph
        self.item_graph.resize(max(len(catalog), self.item_graph.n_items))
        self._user_row = {u: i for i, u in enumerate(model.user_ids)}
        self.user_vectors = model.user_vectors
        dim = model.item_vectors.shape[1]
        vectors = np.zeros((len(catalog), dim), np.float32)
        trained = np.zeros(len(catalog), bool)
        rows = np.fromiter((catalog.row_of.get(i, -1) for i in model.item_ids), np.int64)
        ok = rows >= 0
        vectors[rows[ok]] = model.item_vectors[ok]
        trained[rows[ok]] = True
        self._vectors = vectors
        self._trained = trained
        self._n = len(catalog)
        self._lock = threading.Lock()
        self._users: dict[str, int] = {}
        missing = np.flatnonzero(~trained)
        if len(missing):
            self.ensure(catalog, missing)

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    def ensure(self, catalog: Catalog, rows: I64) -> None:
        """Vectors from content for ``rows`` (new or changed items without a trained vector).

        Rows are written in place (a request may read a new row half-written: harmless, it is
        not in the catalog yet); growth doubles the capacity, so ingest costs O(batch)."""
        rows = np.asarray(rows, np.int64)
        with self._lock:
            n = len(catalog)
            if n > len(self._vectors):
                cap = max(n, 2 * len(self._vectors))
                vectors = np.zeros((cap, self.dim), np.float32)
                trained = np.zeros(cap, bool)
                vectors[: self._n] = self._vectors[: self._n]
                trained[: self._n] = self._trained[: self._n]
                self._vectors, self._trained = vectors, trained
            todo = rows[~self._trained[rows]]
            if len(todo):
                self._vectors[todo] = self.content_map.predict(catalog, todo)
            self._n = max(self._n, n)
            self.item_graph.resize(max(n, self.item_graph.n_items))

    @property
    def vectors(self) -> F32:
        """Item vectors by catalog row (a view)."""
        return self._vectors[: self._n]

    @property
    def trained(self) -> npt.NDArray[np.bool_]:
        """Whether each row's vector was trained (else it came from the content map)."""
        return self._trained[: self._n]

    def query_vector(self, ctx: RequestContext) -> F32 | None:
        """The user's graph-space query (see the module docstring); None with nothing to go on."""
        rows, weights = ctx.recent_rows(20)
        vectors = self.vectors
        known = rows < len(vectors)
        rows, weights = rows[known], weights[known]
        q: F32 | None = None
        if len(rows):
            q = (weights @ vectors[rows]) / np.float32(weights.sum())
        user = self._user_row.get(ctx.user_id) if ctx.user_id is not None else None
        if user is not None:
            uv = self.user_vectors[user]
            q = uv if q is None else uv + 0.5 * q
        return None if q is None else np.asarray(q, np.float32)

    def top(self, q: F32, k: int, exclude: I64) -> tuple[I64, F32]:
        scores = self.vectors @ q
        scores[exclude[exclude < len(scores)]] = -np.inf
        return top_k(scores, k)

    def bought_together(self, ctx: RequestContext, k: int) -> tuple[I64, F32]:
        """Items bought together with what the user recently bought, carted or clicked."""
        rows = np.concatenate([ctx.session.rows[::-1], ctx.user_history.rows[::-1]])
        kinds = np.concatenate([ctx.session.kinds[::-1], ctx.user_history.kinds[::-1]])
        kinds = np.clip(kinds.astype(np.int64), 0, len(SEED_KIND_WEIGHT) - 1)
        recency = 1.0 / (1.0 + np.arange(len(rows), dtype=np.float32))
        weights = SEED_KIND_WEIGHT[kinds] * recency
        keep = weights > 0
        if not keep.any():
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return self.item_graph.neighbors(rows[keep][:30], weights[keep][:30], k, exclude=rows)

    def user_key(self, user_id: str | None, session_id: str | None) -> int:
        """A stable int for a live user (or anonymous session), apart from training users."""
        key = user_id if user_id is not None else f"session:{session_id}"
        with self._lock:
            return self._users.setdefault(key, LIVE_USER_BASE + len(self._users))

    def record(self, events: Events) -> I64:
        """New interactions into the bought-together graph; returns the refreshed item rows."""
        with self._lock:
            return self.item_graph.add(events)
