"""Candidate generation and features for the Amazon Beauty evaluation, all users at once.

Every index is built from the histories of the stage only (``valid``: all items before the
second-to-last; ``test``: all items before the last), so no target ever feeds a candidate or a
feature. Candidates travel as flat columns: ``users[i]``, ``items[i]``, ``features[i, :]``.

Sources (each a top-k list per user, history excluded):

- ``seq``: directional co-visitation (next items: window 3, gap decay 0.5, backward weight
  0.3), queried with the last 3 items weighted 1, 1/2, 1/4.
- ``covis``: symmetric co-visitation (window 10, gap decay 0.8), cosine-normalised, queried with
  the last 20 items weighted ``0.8 ** age``.
- ``content``: title tf-idf and attribute (brand/category id) cosine similarity between items,
  queried with the last 3 items.
- ``popular``: most frequent items in the stage's histories.

The title/attribute similarities (:class:`ItemSimilarity`) come from item metadata only, never
from interactions, so they are the same for both stages and may be built once and shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from engine.core.arrays import F32, I64
from engine.core.retrieval.covisitation import CovisitationIndex, CovisParams, csr_topk
from engine.core.retrieval.popularity import PopularityIndex
from engine.offline.evaluation.beauty_data import BeautyData, Sequences

SOURCES = ("seq", "covis", "content", "popular")
SEQ = CovisParams(window=3, backward_weight=0.3, gap_decay=0.5, normalize="none", top_n=1000)
NEXT = CovisParams(window=1, backward_weight=0.0, normalize="none", top_n=1000)
COVIS = CovisParams(window=10, backward_weight=1.0, gap_decay=0.8, normalize="cosine", top_n=1000)


@dataclass(frozen=True, slots=True)
class SourceSizes:
    seq: int = 300
    covis: int = 300
    content: int = 100
    popular: int = 50
    pool: int = 400


@dataclass(frozen=True, slots=True)
class Candidates:
    users: I64
    items: I64
    features: F32
    feature_names: tuple[str, ...]
    #: per source, 0-based rank of the target in the source's full list (if targets given)
    target_ranks: dict[str, npt.NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class ExtraSource:
    """A source computed elsewhere (two-tower retrieval) for the queried users of one stage:
    its list per user (``top``: users x items, each row best first, history excluded), the
    target's 0-based rank in its full list, and features of any (user row, item) pair."""

    name: str
    top: sp.csr_matrix
    target_ranks: npt.NDArray[np.float64] | None
    pair_features: Callable[[I64, I64], dict[str, F32]]


@dataclass(frozen=True, slots=True)
class StageIndices:
    seq: CovisitationIndex
    nxt: CovisitationIndex
    covis: CovisitationIndex
    content: sp.csr_matrix  # items x items, top-100 similarities per row
    popularity: PopularityIndex
    recent: F32  # how often an item is among the last 3 of a history
    title_sim: sp.csr_matrix  # items x items title tf-idf cosine (>= 0.05), sorted columns


@dataclass(frozen=True, slots=True)
class ItemSimilarity:
    """Item-item similarities from metadata only (titles, attribute ids): stage-independent."""

    content: sp.csr_matrix  # items x items, top-100 (title + attribute) similarities per row
    title: sp.csr_matrix  # items x items title tf-idf cosine (>= 0.05), sorted columns


def _drop_diagonal(block: sp.csr_matrix, first_row: int) -> None:
    rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
    block.data[block.indices == rows + first_row] = 0
    block.eliminate_zeros()


def item_similarity(data: BeautyData, block: int = 2048) -> ItemSimilarity:
    """Title tf-idf cosine (kept where >= 0.05) and, per item, its 100 best
    ``0.5 * title + 0.5 * attribute cosine`` neighbours. Built ``block`` rows at a time: the
    same values as whole-matrix products, without holding 60M+ intermediate entries."""
    norms = np.sqrt(np.asarray(data.attributes.sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    attrs = sp.csr_matrix(sp.diags(inv) @ data.attributes)
    attrs_t, titles_t = sp.csr_matrix(attrs.T), sp.csr_matrix(data.titles.T)
    titles: list[sp.csr_matrix] = []
    contents: list[sp.csr_matrix] = []
    for r0 in range(0, data.n_items, block):
        r1 = min(r0 + block, data.n_items)
        t = sp.csr_matrix(data.titles[r0:r1] @ titles_t, dtype=np.float32)
        t.data[t.data < 0.05] = 0
        _drop_diagonal(t, r0)
        t.sort_indices()
        c = sp.csr_matrix(t * 0.5 + sp.csr_matrix(attrs[r0:r1] @ attrs_t) * 0.5)
        _drop_diagonal(c, r0)
        titles.append(t)
        contents.append(csr_topk(c, 100))
    content = sp.csr_matrix(sp.vstack(contents, format="csr"))
    content.has_sorted_indices = False  # rows are sorted best first, as csr_topk leaves them
    return ItemSimilarity(content, sp.csr_matrix(sp.vstack(titles, format="csr")))


def build_indices(
    data: BeautyData, hist: Sequences, sim: ItemSimilarity | None = None
) -> StageIndices:
    """Interaction indices from ``hist`` only; ``sim`` (metadata only) is built if not given."""
    users, pos, items = hist.users(), hist.positions(), hist.items
    ones = np.ones(len(items), np.float32)
    n = data.n_items
    seq = CovisitationIndex.build(users, items, pos, ones, n, SEQ)
    nxt = CovisitationIndex.build(users, items, pos, ones, n, NEXT)
    covis = CovisitationIndex.build(users, items, pos, ones, n, COVIS)
    sim = sim or item_similarity(data)
    pop = PopularityIndex.build(items, pos, ones, n)
    back = hist.lengths[users] - 1 - pos
    recent = np.bincount(items[back < 3], minlength=n).astype(np.float32)
    return StageIndices(seq, nxt, covis, sim.content, pop, recent, sim.title)


def _attr_slots(attrs: sp.csr_matrix) -> I64:
    """items x max-attributes matrix of attribute ids, padded with -1."""
    counts = np.diff(attrs.indptr)
    out = np.full((attrs.shape[0], int(counts.max())), -1, dtype=np.int64)
    rows = np.repeat(np.arange(attrs.shape[0]), counts)
    out[rows, np.arange(attrs.nnz) - attrs.indptr[rows]] = attrs.indices
    return out


def _query(hist: Sequences, n_items: int, n_last: int, decay: float) -> sp.csr_matrix:
    users, pos = hist.users(), hist.positions()
    back = hist.lengths[users] - 1 - pos
    m = back < n_last
    w = (decay ** back[m]).astype(np.float32)
    return sp.csr_matrix((w, (users[m], hist.items[m])), shape=(hist.n_users, n_items))


class _PairLookup:
    """``mat[rows[i], cols[i]]`` for many pairs at once, by binary search over the sorted
    ``row * n_cols + col`` keys of the canonical CSR (same values as scipy's fancy indexing,
    which scans long rows and is several times slower here)."""

    def __init__(self, mat: sp.csr_matrix) -> None:
        m = sp.csr_matrix(mat, copy=True)
        m.sum_duplicates()  # canonical: sorted columns, no duplicates -> keys sorted, unique
        rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
        self.n_cols = int(m.shape[1])
        self.keys: I64 = rows * self.n_cols + m.indices.astype(np.int64)
        self.data: F32 = np.append(m.data.astype(np.float32), np.float32(0))  # [-1]: absent

    def __call__(self, rows: I64, cols: I64) -> F32:
        """NaN where ``rows[i] < 0`` (no such history item), 0 where the pair is absent."""
        ok = rows >= 0
        out = np.full(len(rows), np.nan, dtype=np.float32)
        q = rows[ok] * self.n_cols + cols[ok]
        pos = np.searchsorted(self.keys, q)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == q[found]
        out[ok] = self.data[np.where(found, pos, -1)]
        return out


def target_ranks(scores: sp.csr_matrix, targets: I64) -> npt.NDArray[np.float64]:
    """Expected 0-based rank of each row's target among the row's scores under random
    tie-breaking (#higher + #tied others / 2); ``inf`` where the target has no score."""
    rows = np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr))
    hit = scores.indices == targets[rows]
    t_score = np.full(scores.shape[0], np.inf, dtype=np.float64)
    t_score[rows[hit]] = scores.data[hit]
    n = scores.shape[0]
    above = np.bincount(rows[scores.data > t_score[rows]], minlength=n)
    tied = np.bincount(rows[scores.data == t_score[rows]], minlength=n) - 1
    return np.where(np.isfinite(t_score), above + tied / 2, np.inf)


def generate(
    data: BeautyData,
    hist: Sequences,
    sizes: SourceSizes | None = None,
    *,
    users: I64 | None = None,
    targets: I64 | None = None,
    sim: ItemSimilarity | None = None,
    extra: Sequence[ExtraSource] = (),
    sources: Sequence[str] = SOURCES,
) -> Candidates:
    """Candidates and their features for ``users`` (default: all) of ``hist``; indices are
    built from all of ``hist``. With ``targets`` (one per queried user), also the rank of the
    target in each source's full list. ``sim``: precomputed :func:`item_similarity`.
    ``extra``: more sources (rows = the queried users, in order), ranked beside the others
    and cut to their own list length; their pair features are appended to the features.
    ``sources``: the built-in sources that propose candidates (all by default; the others'
    rank and score features are left out)."""
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown candidate sources {sorted(unknown)}; known: {list(SOURCES)}")
    sz = sizes or SourceSizes()
    n = data.n_items
    idx = build_indices(data, hist, sim)
    if users is not None:
        hist = hist.subset(users)
    n_users = hist.n_users
    exclude = sp.csr_matrix(
        (np.ones(len(hist.items), np.float32), (hist.users(), hist.items)), shape=(n_users, n)
    ).astype(bool)
    last3 = _query(hist, n, 3, 0.5)
    content = sp.csr_matrix(last3 @ idx.content)
    pop_rows, pop_scores = idx.popularity.top(sz.popular + 20)
    pop = sp.csr_matrix(
        (
            np.tile(pop_scores, n_users),
            (np.repeat(np.arange(n_users), len(pop_rows)), np.tile(pop_rows, n_users)),
        ),
        shape=(n_users, n),
    )
    full = {
        "seq": idx.seq.scores_batch(last3, exclude),
        "covis": idx.covis.scores_batch(_query(hist, n, 20, 0.8), exclude),
        "content": sp.csr_matrix(content - content.multiply(exclude)),
        "popular": sp.csr_matrix(pop - pop.multiply(exclude)),
    }
    full = {k: v for k, v in full.items() if k in sources}
    ranks_of_target = (
        {} if targets is None else {k: target_ranks(v, targets) for k, v in full.items()}
    )
    lists = {name: csr_topk(full.pop(name), getattr(sz, name)) for name in sources}
    for e in extra:
        lists[e.name] = e.top
        if targets is not None and e.target_ranks is not None:
            ranks_of_target[e.name] = e.target_ranks
    names_src = tuple(sources) + tuple(e.name for e in extra)

    # union of the sources, cut to the pool size by best rank in any source
    us, its, src, rank, score = [], [], [], [], []
    for j, name in enumerate(names_src):
        m = lists[name]
        u = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(m.indptr))
        us.append(u)
        its.append(m.indices.astype(np.int64))
        src.append(np.full(m.nnz, j))
        rank.append(np.arange(m.nnz) - m.indptr[u])
        score.append(m.data)
    u_all, i_all = np.concatenate(us), np.concatenate(its)
    s_all, r_all, v_all = np.concatenate(src), np.concatenate(rank), np.concatenate(score)
    key = u_all * n + i_all
    uniq, inv = np.unique(key, return_inverse=True)
    ranks = np.full((len(uniq), len(names_src)), np.nan, np.float32)
    scores = np.full((len(uniq), len(names_src)), np.nan, np.float32)
    ranks[inv, s_all] = r_all
    scores[inv, s_all] = v_all
    cu, ci = uniq // n, uniq % n
    best = np.nanmin(ranks, axis=1)
    order = np.argsort(cu * 1e6 + best)  # by user, then best rank (ranks < 1e6)
    pos_in_user = np.arange(len(order)) - np.searchsorted(cu[order], cu[order])
    keep = np.sort(order[pos_in_user < sz.pool])
    cu, ci, ranks, scores, best = cu[keep], ci[keep], ranks[keep], scores[keep], best[keep]

    feats: dict[str, F32] = {}
    for j, name in enumerate(names_src):
        feats[f"rank_{name}"] = ranks[:, j]
        feats[f"score_{name}"] = scores[:, j]
    feats["best_rank"] = best
    feats["n_sources"] = np.sum(~np.isnan(ranks), axis=1).astype(np.float32)
    seq_m, nxt_m = _PairLookup(idx.seq.matrix), _PairLookup(idx.nxt.matrix)
    cov_m = _PairLookup(idx.covis.matrix)
    for j in (1, 2, 3):
        last = hist.last(j)[cu]
        feats[f"seq_l{j}"] = seq_m(last, ci)
        feats[f"next_l{j}"] = nxt_m(last, ci)
        feats[f"covis_l{j}"] = cov_m(last, ci)
    last1 = hist.last(1)[cu]
    prev_m = _PairLookup(sp.csr_matrix(idx.nxt.matrix.T))
    feats["prev_of_l1"] = prev_m(last1, ci)  # cand usually comes before l1
    title_m = _PairLookup(idx.title_sim)
    for j in (1, 2, 3):
        feats[f"title_l{j}"] = title_m(hist.last(j)[cu], ci)
    slots = _attr_slots(data.attributes)[ci]  # candidate's attribute ids, -1 padded
    has_attr = data.attributes.toarray() > 0
    prof = np.asarray((_query(hist, n, 10**6, 1.0) @ data.attributes).todense(), np.float32)
    attr_l1 = np.zeros(len(ci), np.float32)
    attr_hist = np.zeros(len(ci), np.float32)
    for s in range(slots.shape[1]):
        a = slots[:, s]
        ok = a >= 0
        attr_l1[ok] += has_attr[last1[ok], a[ok]]
        attr_hist[ok] += prof[cu[ok], a[ok]]
    feats["attr_l1"] = attr_l1
    feats["attr_hist"] = attr_hist / hist.lengths[cu]
    feats["attr_n"] = (slots >= 0).sum(axis=1).astype(np.float32)
    pop = idx.popularity.scores["popular"]
    feats["pop"] = pop[ci]
    feats["pop_recent"] = idx.recent[ci]
    feats["pop_l1"] = pop[last1]
    feats["hist_len"] = hist.lengths[cu].astype(np.float32)
    for e in extra:
        feats |= e.pair_features(cu, ci)
    names = tuple(feats)
    matrix = np.empty((len(names), len(ci)), dtype=np.float32)  # filled feature by feature
    for j, k in enumerate(names):
        matrix[j] = feats[k]
    matrix = matrix.T  # column-major (users*candidates x features), which LightGBM accepts
    return Candidates(cu, ci, matrix, names, ranks_of_target)
