"""One two-tower model version at serving time: the query tower in-process, and every catalog
row's item vector of *that* version (for histories, and for the index documents it writes).

A :class:`TowerServing` is immutable in its version: everything it hands out (query vectors,
item vectors, the ``vector_model`` tag of documents, the model filter of index searches)
belongs to :attr:`version`. Switching models means building a new one and swapping the
reference; a request that took the old one finishes with it, so it never mixes versions.

Item vectors come from content alone (:class:`towers.catalog_features.CatalogFeaturizer`), so
an item ingested a second ago gets one as good as an old item's; :meth:`ensure` computes them
for new or changed rows: *full* vectors from the text embedding and the attributes, or, with
``provisional=True``, from the attributes alone (no text-model pass; see
:mod:`towers.item_tower`), to be replaced by the full one once the text is embedded.
``item_vectors.npz`` in the artifact directory keeps the vectors of
the last full build (ids and rows), so opening a server does not re-run the item tower.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog
from engine.core.segment import Segment
from ltr.aggregates import ItemAggregates
from towers.artifact import TowersArtifact, load_artifact
from towers.catalog_features import CatalogFeaturizer
from towers.requests import QueryInputs
from towers.text import TextEncoder

VECTORS_FILE = "item_vectors.npz"


class TowerServing:
    def __init__(
        self,
        artifact: TowersArtifact,
        featurizer: CatalogFeaturizer,
        query_encoder: TextEncoder,
    ) -> None:
        self.artifact = artifact
        self.version = artifact.version
        self.cfg = artifact.meta.tower_config
        self.dim = artifact.dim
        self.featurizer = featurizer
        self.query_encoder = query_encoder
        self._vectors: F32 = np.zeros((0, self.dim), np.float32)
        self._have = np.zeros(0, np.bool_)
        self._full = np.zeros(0, np.bool_)  # the row's vector saw its text (not provisional)
        self._at = np.zeros(0, np.float64)  # when the row's vector was computed (epoch s)
        self._lock = threading.Lock()  # ingest threads write rows; readers never block

    @staticmethod
    def load(
        model_dir: Path,
        text_cache: Path | None,
        min_support: int,
        version: str | None = None,
    ) -> TowerServing:
        art = load_artifact(model_dir, version)
        # One thread for the text model: a request's passes are small, and a busy server has
        # no idle core to give them.
        items = TextEncoder(text_cache, num_threads=1)
        featurizer = CatalogFeaturizer(art.vocabularies, art.meta.tower_config, items, min_support)
        # Query texts: read from the shared disk cache (queries embedded by training), new
        # ones kept in a bounded in-memory LRU, so a server's disk does not grow per query.
        queries = TextEncoder(text_cache, memory_limit=50_000, read_only=True, num_threads=1)
        serving = TowerServing(art, featurizer, queries)
        # Load the text model and run each path once now, not on the first request (which
        # otherwise missed its 40 ms source deadline in the demo).
        empty = np.zeros(0, np.int64)
        for query in ("", "warm up"):
            serving.query_vector(QueryInputs(empty, empty, query, False, 1, Segment.anonymous))
        return serving

    # --- item side -------------------------------------------------------------------------
    def _grow(self, n: int) -> None:
        if n <= len(self._have):
            return
        cap = max(n, 2 * len(self._have), 1024)
        vecs = np.zeros((cap, self.dim), np.float32)
        vecs[: len(self._vectors)] = self._vectors
        have = np.zeros(cap, np.bool_)
        have[: len(self._have)] = self._have
        full = np.zeros(cap, np.bool_)
        full[: len(self._full)] = self._full
        at = np.zeros(cap, np.float64)
        at[: len(self._at)] = self._at
        self._vectors, self._have, self._full, self._at = vecs, have, full, at

    def ensure(
        self,
        catalog: Catalog,
        rows: I64,
        aggregates: ItemAggregates | None = None,
        *,
        provisional: bool = False,
    ) -> F32:
        """Compute (or recompute, for changed content) the vectors of ``rows`` and keep them;
        returns them. ``provisional``: from the attributes only, without the text model."""
        vecs = self.compute(catalog, rows, aggregates, provisional=provisional)
        self.put(rows, vecs, full=not provisional)
        return vecs

    def compute(
        self,
        catalog: Catalog,
        rows: I64,
        aggregates: ItemAggregates | None = None,
        *,
        provisional: bool = False,
    ) -> F32:
        """The vectors of ``rows``, not kept (see :meth:`put`): ingest computes them off the
        event loop and keeps them on it, after checking no newer version came meanwhile."""
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dim), np.float32)
        feats = self.featurizer.features(catalog, rows, aggregates, with_text=not provisional)
        return self.artifact.item_vectors(feats)

    def put(self, rows: I64, vecs: F32, *, full: bool) -> None:
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return
        with self._lock:
            self._grow(int(rows.max()) + 1)
            self._vectors[rows] = vecs
            self._have[rows] = True
            self._full[rows] = full
            self._at[rows] = time.time()

    def is_provisional(self, row: int) -> bool:
        return row < len(self._have) and bool(self._have[row]) and not bool(self._full[row])

    def provisional_rows(self, n_rows: int) -> I64:
        """Rows below ``n_rows`` whose vector is provisional (their text not embedded yet)."""
        return np.flatnonzero(self._have[:n_rows] & ~self._full[:n_rows]).astype(np.int64)

    def cheap(self, catalog: Catalog, rows: I64) -> npt.NDArray[np.bool_]:
        """Rows whose vector needs no text-model pass (their text is cached)."""
        return self.featurizer.encoder.has(self.featurizer.texts(catalog, [int(r) for r in rows]))

    def missing(self, n_rows: int) -> I64:
        have = self._have[:n_rows]
        return np.concatenate(
            [np.flatnonzero(~have), np.arange(len(have), n_rows, dtype=np.int64)]
        ).astype(np.int64)

    def vector(self, row: int) -> F32 | None:
        """The vector of one catalog row, or None when it has none yet."""
        if row >= len(self._have) or not self._have[row]:
            return None
        out: F32 = self._vectors[row].copy()
        return out

    def rows_with_vectors(self, n_rows: int) -> I64:
        """The rows below ``n_rows`` that have a vector."""
        return np.flatnonzero(self._have[:n_rows]).astype(np.int64)

    def vectors_of(self, rows: I64) -> F32:
        """Vectors of ``rows`` in order, rows without one (or unknown, -1) left out."""
        rows = np.asarray(rows, np.int64)
        have, vecs = self._have, self._vectors
        ok = (rows >= 0) & (rows < len(have))
        ok[ok] = have[rows[ok]]
        out: F32 = vecs[rows[ok]]
        return out

    def save_vectors(self, catalog: Catalog) -> Path:
        """Full vectors only: a provisional one is recomputed (or replaced) after a restart."""
        n = min(len(catalog), len(self._have))
        rows = np.flatnonzero(self._have[:n] & self._full[:n])
        path = self.artifact_dir / VECTORS_FILE
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=np.array([catalog.ids[r] for r in rows]), vectors=self._vectors[rows])
        tmp.replace(path)
        return path

    def load_vectors(self, catalog: Catalog) -> int:
        """Vectors saved by the last build, for the ids the catalog still has; returns how many."""
        path = self.artifact_dir / VECTORS_FILE
        if not path.is_file():
            return 0
        with np.load(path, allow_pickle=False) as z:
            ids, vecs = z["ids"], z["vectors"]
        if vecs.shape[1:] != (self.dim,):
            raise ValueError(f"{path}: vectors of dimension {vecs.shape[1:]}, model has {self.dim}")
        rows = np.fromiter((catalog.row_of.get(str(i), -1) for i in ids), np.int64, len(ids))
        ok = rows >= 0
        with self._lock:
            self._grow(len(catalog))
            self._vectors[rows[ok]] = vecs[ok]
            self._have[rows[ok]] = True
            self._full[rows[ok]] = True
            self._at[rows[ok]] = path.stat().st_mtime  # computed by the build that saved them
        return int(ok.sum())

    def vector_state(self, catalog: Catalog, now: float | None = None) -> dict[str, Any]:
        """Item vectors of this model over the live catalog: how many are full, provisional
        (text not embedded yet) or missing, and their ages (seconds since computed)."""
        n = len(catalog)
        live = ~catalog.deleted.values[:n]
        m = min(n, len(self._have))
        have = np.zeros(n, np.bool_)
        full = np.zeros(n, np.bool_)
        have[:m], full[:m] = self._have[:m], self._full[:m]
        at = np.zeros(n, np.float64)
        at[:m] = self._at[:m]
        n_live = int(live.sum())
        n_full = int((live & full).sum())
        n_prov = int((live & have & ~full).sum())
        ages = (now or time.time()) - at[live & have]
        q = np.quantile(ages, [0.5, 0.99, 1.0]) if len(ages) else np.zeros(3)
        return {
            "model": self.version,
            "items": n_live,
            "full": n_full,
            "provisional": n_prov,
            "missing": n_live - n_full - n_prov,
            "share_without_full_vector": round(1 - n_full / max(1, n_live), 5),
            "age_s": {"p50": float(q[0]), "p99": float(q[1]), "max": float(q[2])},
        }

    @property
    def artifact_dir(self) -> Path:
        return self.artifact.model_dir / self.version

    # --- query side ------------------------------------------------------------------------
    def query_vector(self, qi: QueryInputs) -> F32:
        """The query tower's unit vector for one request (history and session most recent
        first, the query text embedded by the cached encoder)."""
        history = self.vectors_of(qi.history[::-1])
        session = self.vectors_of(qi.session[::-1])
        text = self.artifact.encode_query(qi.query, self.query_encoder) if qi.query else None
        return self.artifact.query_vector(
            history=history,
            session=session,
            query_text=text,
            segment=qi.segment,
            context=[qi.surface],
        )
