"""Item-to-item content similarity, from catalog metadata only (no interactions).

Each item is two L2-normalised sparse vectors: its title (and brand) tokens weighted by
inverse document frequency (tf-idf with binary term frequency), and its attribute ids
(:func:`~engine.core.text.attribute_ids`, e.g. the brand and category ids of Amazon metadata),
equally weighted. The similarity of two items is::

    S[a, b] = title_weight * title_cos(a, b) + (1 - title_weight) * attribute_cos(a, b)

with title cosines below ``min_title`` counted as 0; only the ``top_n`` best neighbours of each
item are kept (CSR, rows sorted best first), built a block of rows at a time (dense, about
``block_entries`` similarities) so that the items x items products are never held whole.
That compares every pair: beyond ``exact_max_items`` items only the pairs sharing a rare
title token or attribute id are scored (``_pruned_pairs``), so the build grows with the
catalog, not its square. The vectors are kept too, so the exact title and attribute cosines
of any pair can be read (the ranker's pair features).

Built from the catalog at index time; items added since read as having no neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.core.arrays import F32, I64
from engine.core.columns import RaggedInts
from engine.core.kernels import sparse_dots
from engine.core.retrieval.neighbors import csr_topk, weighted_neighbors


@dataclass(frozen=True, slots=True)
class ContentParams:
    title_weight: float = 0.5
    min_title: float = 0.05
    top_n: int = 100
    block_entries: int = 1 << 24  # similarities held at once during the build (rows x items)
    #: catalogs up to this size compare every pair of items (time grows with the square of the
    #: catalog: 27 s at 50K items on 2 cores); larger ones take the pruned build
    exact_max_items: int = 60_000
    #: pruned build: title tokens and attribute ids on more items than this propose no pairs
    max_df: int = 3_000
    block_rows: int = 2_048  # pruned build: rows per sparse block


def _normalised(mat: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1), dtype=np.float32).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv) @ mat, dtype=np.float32)


def _bag(column: RaggedInts, n_rows: int, idf: bool) -> sp.csr_matrix:
    """Rows x distinct ids of ``column``: 1 per (row, id) or, with ``idf``, the id's inverse
    document frequency ``log((n + 1) / (df + 1)) + 1``; L2-normalised rows."""
    values, lengths = column.gather(np.arange(n_rows, dtype=np.int64))
    _, cols = np.unique(values, return_inverse=True)
    n_cols = int(cols.max()) + 1 if len(cols) else 0
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
    data = np.ones(len(cols), np.float32)
    if idf and len(cols):
        df = np.bincount(cols, minlength=n_cols).astype(np.float32)
        data = (np.log((n_rows + 1) / (df + 1)) + 1).astype(np.float32)[cols]
    mat = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32)
    mat.sum_duplicates()
    return _normalised(mat)


def _top_per_row(scores: F32, k: int) -> tuple[I64, F32]:
    """The ``k`` best columns of each row of a dense block, best first (ties by column)."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((scores.shape[0], 0), np.int64), np.zeros((scores.shape[0], 0), np.float32)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # by column, so the stable sort below breaks ties by column
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64), np.take_along_axis(
        vals, order, axis=1
    )


def _row_vectors(vectors: sp.csr_matrix, rows: I64) -> F32:
    """The dense rows ``rows`` of ``vectors`` (zero for a row the table does not have)."""
    out = np.zeros((len(rows), vectors.shape[1]), np.float32)
    for k, row in enumerate(rows):
        if 0 <= row < vectors.shape[0]:
            lo, hi = vectors.indptr[row], vectors.indptr[row + 1]
            out[k, vectors.indices[lo:hi]] = vectors.data[lo:hi]
    return out


def _dots(vectors: sp.csr_matrix, cols: I64, xs: F32) -> F32:
    """``vectors[cols] @ x`` for each row ``x`` of ``xs``, as scipy computes it (float32, in
    stored order), 0 for the ``cols`` the table does not have; one pass over the candidates'
    rows for every vector, without building the ``cols`` sub-matrix
    (:mod:`engine.core.kernels`)."""
    out = np.zeros((len(xs), len(cols)), np.float32)
    known = (cols >= 0) & (cols < vectors.shape[0])
    if len(xs) and known.any():
        out[:, known] = sparse_dots(vectors.indptr, vectors.indices, vectors.data, cols[known], xs)
    return out


@dataclass(frozen=True, slots=True)
class RecentContent:
    """Cosines of a request's candidates with the items just acted on
    (:meth:`ContentSimilarity.against_recent`)."""

    titles: F32  # [len(recent), candidates]: title cosine with each recent item
    attribute_last: F32  # attribute cosine with the most recent item (zeros without one)
    attribute_profile: F32  # mean attribute cosine over the context items (zeros without)


def _every_pair(titles: sp.csr_matrix, attrs: sp.csr_matrix, p: ContentParams) -> sp.csr_matrix:
    """The exact neighbour table: every pair scored, a dense block of rows at a time."""
    n = titles.shape[0]
    titles_t, attrs_t = sp.csr_matrix(titles.T), sp.csr_matrix(attrs.T)
    block = max(1, p.block_entries // max(n, 1))
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices: list[I64] = []
    data: list[F32] = []
    for r0 in range(0, n, block):
        r1 = min(r0 + block, n)
        t = np.asarray((titles[r0:r1] @ titles_t).todense(), dtype=np.float32)
        t[t < p.min_title] = 0
        both = t * np.float32(p.title_weight)
        both += np.asarray((attrs[r0:r1] @ attrs_t).todense(), dtype=np.float32) * np.float32(
            1.0 - p.title_weight
        )
        both[np.arange(r1 - r0), np.arange(r0, r1)] = 0  # no item is its own neighbour
        cols, vals = _top_per_row(both, p.top_n)
        keep = vals > 0
        indices.extend(c[m] for c, m in zip(cols, keep, strict=True))
        data.extend(v[m] for v, m in zip(vals, keep, strict=True))
        indptr[r0 + 1 : r1 + 1] = keep.sum(axis=1)
    np.cumsum(indptr, out=indptr)
    return sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int64),
            indptr,
        ),
        shape=(n, n),
    )


def _rare(mat: sp.csr_matrix, max_df: int) -> sp.csr_matrix:
    """``mat`` without the columns (ids) set on more than ``max_df`` rows."""
    df = np.bincount(mat.indices, minlength=mat.shape[1])
    out = sp.csr_matrix(mat @ sp.diags((df <= max_df).astype(np.float32)), dtype=np.float32)
    out.eliminate_zeros()
    return out


def _pruned_pairs(titles: sp.csr_matrix, attrs: sp.csr_matrix, p: ContentParams) -> sp.csr_matrix:
    """The neighbour table of a large catalog: only pairs sharing a rare title token or
    attribute id (on at most ``p.max_df`` items) are scored, by the cosines over those ids
    (so at most the exact ones), in sparse blocks of rows. An id on more items says little of
    any pair of them (tf-idf weighs such tokens least) and would make the products dense: the
    cost is bounded by ``max_df`` per id of each item, not by the catalog squared. The exact
    cosines of any pair stay readable (:meth:`ContentSimilarity.title_scores`)."""
    n = titles.shape[0]
    t, a = _rare(titles, p.max_df), _rare(attrs, p.max_df)
    t_t, a_t = sp.csr_matrix(t.T), sp.csr_matrix(a.T)
    blocks = []
    for r0 in range(0, n, p.block_rows):
        r1 = min(r0 + p.block_rows, n)
        tt = sp.csr_matrix(t[r0:r1] @ t_t)
        tt.data[tt.data < p.min_title] = 0
        both = sp.csr_matrix(
            tt * np.float32(p.title_weight) + (a[r0:r1] @ a_t) * np.float32(1.0 - p.title_weight)
        )
        both.setdiag(0, k=r0)  # no item is its own neighbour
        both.eliminate_zeros()
        blocks.append(csr_topk(both, p.top_n))
    if not blocks:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(blocks), dtype=np.float32)


class ContentSimilarity:
    """Item neighbours by title and attribute similarity (see module docstring)."""

    def __init__(
        self, titles: sp.csr_matrix, attributes: sp.csr_matrix, neighbours: sp.csr_matrix
    ) -> None:
        self.titles = sp.csr_matrix(titles, dtype=np.float32)
        self.attributes = sp.csr_matrix(attributes, dtype=np.float32)
        self.neighbours = sp.csr_matrix(neighbours, dtype=np.float32)

    @property
    def n_items(self) -> int:
        return int(self.neighbours.shape[0])

    @classmethod
    def build(
        cls,
        tokens: RaggedInts,
        attributes: RaggedInts,
        n_items: int,
        params: ContentParams | None = None,
    ) -> ContentSimilarity:
        """From the catalog's title (and brand) token ids and attribute ids of its first
        ``n_items`` rows (``Catalog.tokens``, ``Catalog.attributes``)."""
        p = params or ContentParams()
        titles = _bag(tokens, n_items, idf=True)
        attrs = _bag(attributes, n_items, idf=False)
        if n_items <= p.exact_max_items:
            return cls(titles, attrs, _every_pair(titles, attrs, p))
        return cls(titles, attrs, _pruned_pairs(titles, attrs, p))

    def neighbors(
        self,
        item_rows: npt.ArrayLike,
        item_weights: npt.ArrayLike,
        k: int,
        exclude: npt.ArrayLike | None = None,
    ) -> tuple[I64, F32]:
        """Top ``k`` items by ``sum_i item_weights[i] * S[item_rows[i], :]``, best first."""
        return weighted_neighbors(self.neighbours, item_rows, item_weights, k, exclude)

    def title_scores(self, row: int, cols: I64) -> F32:
        """Title cosine of ``row`` with each of ``cols`` (0 for items unknown to the table)."""
        out: F32 = _dots(self.titles, cols, _row_vectors(self.titles, np.array([row])))[0]
        return out

    def pair_scores(self, row: int, cols: I64, params: ContentParams | None = None) -> F32:
        """The exact similarity ``S[row, c]`` of the module docstring for each of ``cols``,
        whether or not the neighbour table kept the pair."""
        p = params or ContentParams()
        title = self.title_scores(row, cols)
        title[title < p.min_title] = 0
        out: F32 = (
            np.float32(p.title_weight) * title
            + np.float32(1.0 - p.title_weight) * self.attribute_scores(row, cols)
        ).astype(np.float32)
        return out

    def attribute_scores(self, row: int, cols: I64) -> F32:
        """Attribute cosine of ``row`` with each of ``cols`` (0 for unknown items)."""
        out: F32 = _dots(self.attributes, cols, _row_vectors(self.attributes, np.array([row])))[0]
        return out

    def against_recent(self, recent: I64, context: I64, cols: I64) -> RecentContent:
        """``cols`` against the items just acted on: the title cosine with each of ``recent``,
        the attribute cosine with ``recent[0]`` and the mean attribute cosine over
        ``context``, each matrix's candidate rows read once for all of them."""
        titles = _dots(self.titles, cols, _row_vectors(self.titles, recent))
        context = context[(context >= 0) & (context < self.n_items)]
        xs = _row_vectors(self.attributes, recent[:1])
        if len(context):
            profile = np.asarray(self.attributes[context].sum(axis=0), dtype=np.float32)
            xs = np.concatenate([xs, profile])
        attrs = _dots(self.attributes, cols, xs)
        zeros = np.zeros(len(cols), np.float32)
        last = attrs[0] if len(recent) else zeros
        mean = attrs[-1] / len(context) if len(context) else zeros
        return RecentContent(titles, last, mean)

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {}
        for name in ("titles", "attributes", "neighbours"):
            m: sp.csr_matrix = getattr(self, name)
            arrays[f"{name}_indptr"] = m.indptr
            arrays[f"{name}_indices"] = m.indices
            arrays[f"{name}_data"] = m.data
            arrays[f"{name}_shape"] = np.asarray(m.shape)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> ContentSimilarity:
        with np.load(path) as z:

            def mat(name: str) -> sp.csr_matrix:
                shape = (int(z[f"{name}_shape"][0]), int(z[f"{name}_shape"][1]))
                parts = (z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"])
                return sp.csr_matrix(parts, shape=shape)

            return cls(mat("titles"), mat("attributes"), mat("neighbours"))
