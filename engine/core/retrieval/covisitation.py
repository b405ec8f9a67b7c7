"""Item-to-item co-visitation index, built from session event columns with scipy.sparse.

Two events ``a`` (earlier) and ``b`` (later) of the same session, at most ``window`` events
apart, add to both directions of the pair of their items::

    C[item_a, item_b] += w_b * decay(b) * gap_decay ** (gap - 1)                 (forward)
    C[item_b, item_a] += w_a * decay(a) * gap_decay ** (gap - 1) * backward_weight  (backward)

where ``w`` is the per-event weight (e.g. 1 view/click, 3 cart, 6 purchase, supplied by the
caller), ``decay(e) = 0.5 ** ((reference_time - ts_e) / half_life)`` (1 without a half-life) and
``gap`` is the distance in events. ``backward_weight=1`` gives the classic symmetric
co-visitation count; ``backward_weight < 1`` is the directional variant for sequential data
("people who saw A then saw B"). Pairs of the same item are dropped.

Normalisation (``normalize``): ``"none"``; ``"cosine"`` divides by ``sqrt(p_a * p_b)`` with ``p``
the weighted item frequency (item-based CF, Sarwar et al., WWW 2001); ``"row"`` divides each row
by its sum (a transition probability). Only the ``top_n`` best neighbours of each item are kept
(CSR, rows sorted best first).

Incremental updates are not implemented: rebuild, or add the sparse matrix of a new batch
built the same way before the top-N cut (the index keeps only the cut matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.core.arrays import F32, I64
from engine.core.retrieval.content import ContentSimilarity
from engine.core.retrieval.neighbors import csr_topk, weighted_neighbors

__all__ = ["CoVisits", "CovisParams", "CovisitationIndex", "csr_topk", "weighted_neighbors"]

Normalize = Literal["none", "cosine", "row"]


@dataclass(frozen=True, slots=True)
class CovisParams:
    window: int = 5
    half_life: float | None = None
    reference_time: float | None = None
    backward_weight: float = 1.0
    gap_decay: float = 1.0
    normalize: Normalize = "cosine"
    top_n: int = 200


def _pairs_matrix(
    sessions: I64, items: I64, weight: F32, n_items: int, p: CovisParams
) -> sp.csr_matrix:
    total = sp.csr_matrix((n_items, n_items), dtype=np.float32)
    n = len(items)
    for gap in range(1, p.window + 1):
        if gap >= n:
            break
        in_session = sessions[gap:] == sessions[:-gap]
        if not in_session.any():  # no session spans ``gap`` events, so none spans more
            break
        same = in_session & (items[gap:] != items[:-gap])
        a = np.flatnonzero(same)
        b = a + gap
        g = np.float32(p.gap_decay ** (gap - 1))
        fwd = weight[b] * g
        rows = [items[a], items[b]] if p.backward_weight > 0 else [items[a]]
        cols = [items[b], items[a]] if p.backward_weight > 0 else [items[b]]
        vals = [fwd, weight[a] * (g * np.float32(p.backward_weight))]
        part = sp.coo_matrix(
            (np.concatenate(vals[: len(rows)]), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        ).tocsr()
        total = total + part
    return total.tocsr()


class CovisitationIndex:
    """Top-N item neighbours with summed co-visitation scores (see module docstring)."""

    def __init__(self, matrix: sp.csr_matrix, params: CovisParams) -> None:
        self.matrix = matrix.tocsr().astype(np.float32)
        self.params = params
        self._by_column: sp.csc_matrix | None = None  # built on first use of :meth:`into`

    def pair_scores(self, row: int, cols: I64) -> F32:
        """``C[row, c]`` for each ``c`` of ``cols`` (0 where ``c`` is not among the neighbours
        kept for ``row``, or ``row`` is outside the table)."""
        out = np.zeros(len(cols), np.float32)
        if not 0 <= row < self.n_items:
            return out
        a, b = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return _lookup(self.matrix.indices[a:b], self.matrix.data[a:b], cols, out)

    def row_max(self, row: int) -> float:
        """The largest score of ``row``'s neighbours (0 without any, or outside the table)."""
        if not 0 <= row < self.n_items:
            return 0.0
        a, b = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return float(self.matrix.data[a:b].max()) if b > a else 0.0

    def into(self, cols: I64, row: int) -> F32:
        """``C[c, row]`` for each ``c`` of ``cols``: how much each leads to ``row``."""
        out = np.zeros(len(cols), np.float32)
        if not 0 <= row < self.n_items:
            return out
        if self._by_column is None:
            self._by_column = sp.csc_matrix(self.matrix)
        m = self._by_column
        a, b = m.indptr[row], m.indptr[row + 1]
        return _lookup(m.indices[a:b], m.data[a:b], cols, out)

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[0])

    @classmethod
    def build(
        cls,
        sessions: npt.ArrayLike,
        items: npt.ArrayLike,
        ts: npt.ArrayLike,
        weights: npt.ArrayLike,
        n_items: int,
        params: CovisParams | None = None,
    ) -> CovisitationIndex:
        """Build from event columns (any order; sorted by session then time here)."""
        p = params or CovisParams()
        s = np.asarray(sessions, dtype=np.int64)
        it = np.asarray(items, dtype=np.int64)
        t = np.asarray(ts, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float32)
        if not (len(s) == len(it) == len(t) == len(w)):
            raise ValueError("sessions, items, ts and weights must have the same length")
        order = np.lexsort((t, s))
        s, it, t, w = s[order], it[order], t[order], w[order]
        if p.half_life is not None:
            ref = float(t.max()) if p.reference_time is None else p.reference_time
            w = w * np.exp2(-(ref - t) / p.half_life).astype(np.float32)
        mat = _pairs_matrix(s, it, w, n_items, p)
        if p.normalize == "cosine":
            freq = np.bincount(it, weights=w, minlength=n_items).astype(np.float32)
            inv = np.zeros_like(freq)
            np.divide(1.0, np.sqrt(freq), out=inv, where=freq > 0)
            mat = sp.diags(inv) @ mat @ sp.diags(inv)
        elif p.normalize == "row":
            sums = np.asarray(mat.sum(axis=1), dtype=np.float32).ravel()
            inv = np.zeros_like(sums)
            np.divide(1.0, sums, out=inv, where=sums > 0)
            mat = sp.diags(inv) @ mat
        return cls(csr_topk(sp.csr_matrix(mat, dtype=np.float32), p.top_n), p)

    def neighbors(
        self,
        item_rows: npt.ArrayLike,
        item_weights: npt.ArrayLike,
        k: int,
        exclude: npt.ArrayLike | None = None,
    ) -> tuple[I64, F32]:
        """Top ``k`` items by ``sum_i item_weights[i] * C[item_rows[i], :]``, best first.

        ``exclude`` is an array of item rows never returned (e.g. the history).
        """
        return weighted_neighbors(self.matrix, item_rows, item_weights, k, exclude)

    def scores_batch(
        self, queries: sp.csr_matrix, exclude: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        """All scores of :meth:`neighbors_batch`, before the top-``k`` cut (rows unsorted)."""
        scores = sp.csr_matrix(sp.csr_matrix(queries, dtype=np.float32) @ self.matrix)
        if exclude is not None:
            scores = sp.csr_matrix(scores - scores.multiply(exclude.astype(bool)))
            scores.eliminate_zeros()
        return scores

    def neighbors_batch(
        self, queries: sp.csr_matrix, k: int, exclude: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        """Batch :meth:`neighbors`: ``queries`` is (users x items) of item weights; returns
        (users x items) top-``k`` scores per row, rows sorted best first. Entries where
        ``exclude`` is non-zero are dropped."""
        return csr_topk(self.scores_batch(queries, exclude), k)

    def save(self, path: Path) -> None:
        m, p = self.matrix, self.params
        np.savez_compressed(
            path,
            indptr=m.indptr,
            indices=m.indices,
            data=m.data,
            shape=np.asarray(m.shape),
            window=p.window,
            half_life=np.nan if p.half_life is None else p.half_life,
            reference_time=np.nan if p.reference_time is None else p.reference_time,
            backward_weight=p.backward_weight,
            gap_decay=p.gap_decay,
            normalize=p.normalize,
            top_n=p.top_n,
        )

    @classmethod
    def load(cls, path: Path) -> CovisitationIndex:
        with np.load(path) as z:
            shape = (int(z["shape"][0]), int(z["shape"][1]))
            mat = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            hl, ref = float(z["half_life"]), float(z["reference_time"])
            norm = str(z["normalize"])
            if norm not in ("none", "cosine", "row"):
                raise ValueError(f"bad normalize {norm!r} in {path}")
            params = CovisParams(
                window=int(z["window"]),
                half_life=None if np.isnan(hl) else hl,
                reference_time=None if np.isnan(ref) else ref,
                backward_weight=float(z["backward_weight"]),
                gap_decay=float(z["gap_decay"]),
                normalize=norm,  # type: ignore[arg-type]
                top_n=int(z["top_n"]),
            )
        return cls(mat, params)


def _lookup(keys: npt.NDArray[np.int32], values: F32, cols: I64, out: F32) -> F32:
    """``out[i] = values[j]`` where ``keys[j] == cols[i]`` (keys unique, any order)."""
    if len(keys) == 0:
        return out
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    pos = np.minimum(np.searchsorted(keys, cols), len(keys) - 1)
    hit = keys[pos] == cols
    out[hit] = values[pos[hit]]
    return out


SYMMETRIC_FILE = "covis.npz"
CONTENT_FILE = "content.npz"
SEQUENTIAL_FILE = "sequence.npz"
BASKET_FILE = "basket.npz"


@dataclass(frozen=True, slots=True)
class CoVisits:
    """The item-to-item tables: ``symmetric`` (items acted on together) and ``sequential``
    (what comes next: pairs in their order weigh more than against it; None in model
    directories written before it existed), built from sessions, and ``content`` (title and
    attribute similarity, from the catalog only; None when not built), and ``basket``: items
    of the same session in any order and at any distance, raw (not normalised) weights, so
    that what is often bought together with an item leads (None when not built)."""

    symmetric: CovisitationIndex
    sequential: CovisitationIndex | None = None
    content: ContentSimilarity | None = None
    basket: CovisitationIndex | None = None

    def save(self, directory: Path) -> None:
        self.symmetric.save(directory / SYMMETRIC_FILE)
        if self.sequential is not None:
            self.sequential.save(directory / SEQUENTIAL_FILE)
        if self.content is not None:
            self.content.save(directory / CONTENT_FILE)
        if self.basket is not None:
            self.basket.save(directory / BASKET_FILE)

    @classmethod
    def load(cls, directory: Path) -> CoVisits | None:
        """The tables under ``directory`` (None when there is no symmetric one)."""
        if not (directory / SYMMETRIC_FILE).is_file():
            return None
        seq = directory / SEQUENTIAL_FILE
        content = directory / CONTENT_FILE
        basket = directory / BASKET_FILE
        return cls(
            CovisitationIndex.load(directory / SYMMETRIC_FILE),
            CovisitationIndex.load(seq) if seq.is_file() else None,
            ContentSimilarity.load(content) if content.is_file() else None,
            CovisitationIndex.load(basket) if basket.is_file() else None,
        )
