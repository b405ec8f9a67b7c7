"""MiniLM vectors of the item texts, for the ranker's ``query_text_similarity`` on search.

``shopnow index --text-vectors`` embeds every live item's text (title, then description:
:func:`towers.text.item_text`, the texts the item tower reads, so the content-hash cache
shares them) and saves them as float16 with their ids in ``text_vectors.npz`` beside the
other models. Serving loads them aligned to the catalog's rows and embeds each new query
once (an in-memory LRU over the shared disk cache); the ``text`` source searches them exactly
for a search's nearest items. A row without a vector (an item added, or
at another version, since the build) has no similarity (NaN), which the ranker reads as
missing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.core.arrays import F32, I64
from engine.core.catalog import Catalog
from towers.text import TEXT_DIM, TextEncoder, encoder_version, item_text

FILE = "text_vectors.npz"
CHUNK = 2_048


class TextVectors:
    def __init__(
        self, catalog: Catalog, vectors: np.ndarray, have: np.ndarray, queries: TextEncoder
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors  # float16 [rows at load, 384]
        self.have = have
        # the exact search's matrix: float32 (a product over float16 runs ~10x slower), rows
        # without a vector left out
        self.search_rows = np.flatnonzero(have)
        self.matrix = vectors[self.search_rows].astype(np.float32)
        self.queries = queries
        self.version = queries.version
        self._lock = threading.Lock()  # the query cache is read from the text source's thread

    @staticmethod
    def build(catalog: Catalog, encoder: TextEncoder, progress: bool = False) -> dict[str, object]:
        """Every live row's text vector, as the arrays :meth:`save` writes."""
        rows = np.flatnonzero(~catalog.deleted.values[: len(catalog)])
        out = np.zeros((len(rows), TEXT_DIM), np.float16)
        with tqdm(total=len(rows), desc="text vectors", unit="item", disable=not progress) as bar:
            for lo in range(0, len(rows), CHUNK):
                part = rows[lo : lo + CHUNK]
                texts = [item_text(catalog.titles[r], catalog.descriptions[r]) for r in part]
                out[lo : lo + len(part)] = encoder.encode(texts)
                bar.update(len(part))
        return {
            "ids": np.array([catalog.ids[r] for r in rows], dtype=object),
            "versions": catalog.version.values[rows],
            "vectors": out,
            "version": np.array(encoder_version()),
        }

    @staticmethod
    def save(arrays: dict[str, object], model_dir: Path) -> Path:
        model_dir.mkdir(parents=True, exist_ok=True)
        tmp = model_dir / f".{FILE}"
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        path = model_dir / FILE
        tmp.replace(path)  # readers see the old file or the new one, never a part
        return path

    @staticmethod
    def load(model_dir: Path, catalog: Catalog, text_cache: Path | None) -> TextVectors | None:
        """The saved vectors aligned to ``catalog``'s rows, or None without a file or when
        another text model made them."""
        path = model_dir / FILE
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=True) as z:
            if str(z["version"]) != encoder_version():
                return None
            ids, versions, saved = z["ids"].tolist(), z["versions"], z["vectors"]
        vectors = np.zeros((len(catalog), TEXT_DIM), np.float16)
        have = np.zeros(len(catalog), np.bool_)
        rows = np.fromiter((catalog.row_of.get(i, -1) for i in ids), np.int64, count=len(ids))
        ok = rows >= 0
        ok[ok] = catalog.version.values[rows[ok]] == versions[ok]  # changed since: no vector
        vectors[rows[ok]] = saved[ok]
        have[rows[ok]] = True
        queries = TextEncoder(text_cache, memory_limit=50_000, read_only=True, num_threads=1)
        queries.encode_query("warm up")  # load the text model now, not on the first request
        return TextVectors(catalog, vectors, have, queries)

    def query_vector(self, query: str) -> F32:
        """The query's MiniLM vector: computed once, then from the in-memory cache."""
        with self._lock:
            return self.queries.encode_query(query)

    def similarity(self, query: str, rows: I64) -> F32:
        out = np.full(len(rows), np.nan, np.float32)
        if not query.strip() or len(rows) == 0:
            return out
        q = self.query_vector(query)
        known = rows < len(self.have)
        idx = rows[known]
        sims = self.vectors[idx].astype(np.float32) @ q
        sims[~self.have[idx]] = np.nan
        out[known] = sims
        return out

    def search(self, query: str, k: int) -> tuple[I64, F32]:
        """Exact: one product with every vector (~1 ms at 20K items, linear in the catalog;
        beyond a few hundred thousand items the vectors belong in the index's HNSW field)."""
        if not query.strip() or k <= 0 or len(self.search_rows) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = self.matrix @ self.query_vector(query)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.search_rows[top].astype(np.int64), scores[top].astype(np.float32)
