"""The compiled kernels give exactly what the numpy and scipy expressions they replace give."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from engine.core.columns import RaggedInts
from engine.core.kernels import idf_sums, match_sums, sparse_dots, title_scan, warm


def _ragged(rng: np.random.Generator, n: int, vocab: int, distinct: bool = False) -> RaggedInts:
    """Random rows; ``distinct``: each row's ids sorted and distinct, as the catalog keeps
    its name, description and attribute fields (a title keeps its words in order)."""

    def row() -> np.ndarray:
        ids = rng.integers(-vocab, vocab, rng.integers(0, 12)) * (1 << 40)  # 64-bit-like ids
        return np.unique(ids) if distinct else ids

    col = RaggedInts(compact_min=8)
    for r in range(n):
        col.set(r, row())
    for r in rng.choice(n, n // 4, replace=False):  # rewritten rows: garbage, then compaction
        col.set(int(r), row())
    return col


def test_idf_sums_and_title_scan_match_the_numpy_expressions() -> None:
    rng = np.random.default_rng(0)
    col = _ragged(rng, 500, 20, distinct=True)
    rows = rng.integers(0, 500, 300).astype(np.int64)
    q = np.unique(rng.integers(-20, 20, 5) * (1 << 40)).astype(np.int64)
    q_idf = rng.uniform(0.1, 5.0, len(q))
    toks, lengths = col.gather(rows)
    # the numpy expressions the kernels replace (ltr/text_match.py before them)
    owner = np.repeat(np.arange(len(rows)), lengths)
    k = np.minimum(np.searchsorted(q, toks), len(q) - 1)
    hit = q[k] == toks
    want = np.bincount(owner[hit], weights=q_idf[k[hit]], minlength=len(rows))
    got = idf_sums(*col.parts(), rows, q, q_idf)
    np.testing.assert_array_equal(got, want)
    sums, counts = match_sums(*col.parts(), rows, q, q_idf)
    np.testing.assert_array_equal(sums, want)
    np.testing.assert_array_equal(counts, np.bincount(owner[hit], minlength=len(rows)))
    assert (got > 0).any() and (got == 0).any()

    title = _ragged(rng, 500, 20)  # words in title order, repeats kept
    toks, lengths = title.gather(rows)
    owner = np.repeat(np.arange(len(rows)), lengths)
    head = q[-1]
    want_head = np.bincount(owner[toks == head], minlength=len(rows)) > 0
    position = np.arange(len(toks)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    want_first = np.full(len(rows), np.inf)
    in_q = np.isin(toks, q)
    np.minimum.at(want_first, owner[in_q], position[in_q])
    got_head, got_first = title_scan(*title.parts(), rows, q, np.int64(head))
    np.testing.assert_array_equal(got_head, want_head)
    np.testing.assert_array_equal(got_first, want_first)
    assert np.isinf(got_first).any() and np.isfinite(got_first).any()


def test_sparse_dots_match_scipy() -> None:
    rng = np.random.default_rng(1)
    m = sp.random(400, 300, density=0.03, format="csr", dtype=np.float32, random_state=2)
    m = sp.csr_matrix(m.multiply(1.0 / (sp.linalg.norm(m, axis=1).reshape(-1, 1) + 1e-9)))
    m = m.astype(np.float32)
    cols = rng.integers(0, 400, 250).astype(np.int64)
    row = 17
    want = np.asarray((m[cols] @ m[row].T).todense(), np.float32).ravel()
    x = np.zeros(300, np.float32)
    lo, hi = m.indptr[row], m.indptr[row + 1]
    x[m.indices[lo:hi]] = m.data[lo:hi]
    got = sparse_dots(m.indptr, m.indices, m.data, cols, x[None])[0]
    np.testing.assert_array_equal(got, want)
    profile = np.asarray(m[[3, 5, 8]].sum(axis=0), np.float32).ravel()
    want_profile = np.asarray(m[cols] @ profile, np.float32).ravel()
    np.testing.assert_array_equal(
        sparse_dots(m.indptr, m.indices, m.data, cols, profile[None])[0], want_profile
    )
    assert (got != 0).any()
    both = sparse_dots(m.indptr, m.indices, m.data, cols, np.stack([x, profile]))
    np.testing.assert_array_equal(both, np.stack([want, want_profile]))  # one pass, same sums


def test_warm_compiles_every_kernel() -> None:
    warm()
    for kernel in (match_sums, title_scan, sparse_dots):
        assert kernel.signatures, kernel
