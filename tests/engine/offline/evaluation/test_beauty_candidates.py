"""Candidate generation of the Amazon Beauty evaluation on small synthetic data (no data needed):
no test target can reach the test-stage candidates or features, history items are never
candidates, and the fast pair lookup agrees with scipy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp

from engine.offline.evaluation.beauty_candidates import (
    SourceSizes,
    _PairLookup,
    generate,
    item_similarity,
)
from engine.offline.evaluation.beauty_data import BeautyData, Sequences, leave_one_out

N_ITEMS = 80


def _data(seed: int, n_users: int = 300) -> BeautyData:
    rng = np.random.default_rng(seed)
    # a few "journeys" through the catalogue so that co-visitation has structure
    seqs: list[npt.NDArray[np.int64]] = []
    while len(seqs) < n_users:
        start, n = int(rng.integers(0, N_ITEMS)), int(rng.integers(5, 12))
        walk = (start + np.cumsum(rng.integers(1, 4, size=n))) % N_ITEMS
        seqs.append(np.asarray(list(dict.fromkeys(walk.tolist())), dtype=np.int64))
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    seq = Sequences(indptr, np.concatenate(seqs).astype(np.int64))
    titles = sp.random(N_ITEMS, 40, density=0.1, random_state=seed, dtype=np.float32, format="csr")
    norms = np.sqrt(np.asarray(titles.multiply(titles).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    titles = sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ titles)
    attrs = sp.csr_matrix(
        (
            np.ones(2 * N_ITEMS, np.float32),
            (np.repeat(np.arange(N_ITEMS), 2), rng.integers(0, 9, 2 * N_ITEMS)),
        ),
        shape=(N_ITEMS, 9),
    )
    attrs.sum_duplicates()
    attrs.data[:] = 1.0
    return BeautyData(seq, N_ITEMS, attrs, titles)


def _with_last_items(seqs: Sequences, last: np.ndarray) -> Sequences:
    items = seqs.items.copy()
    items[seqs.indptr[1:] - 1] = last
    return Sequences(seqs.indptr, items)


@pytest.mark.parametrize("seed", [0, 1])
def test_test_targets_cannot_reach_test_candidates(seed: int) -> None:
    data = _data(seed)
    sizes = SourceSizes(seq=30, covis=30, content=20, popular=10, pool=40)
    test = leave_one_out(data.sequences, "test")
    base = generate(data, test.history, sizes)
    # the targets only feed the diagnostic ranks, never the candidates or the features
    with_t = generate(data, test.history, sizes, targets=test.targets)
    np.testing.assert_array_equal(base.items, with_t.items)
    np.testing.assert_array_equal(base.features, with_t.features)
    # other last items (test targets) leave the test-stage history and everything built on it
    rng = np.random.default_rng(seed + 10)
    other = _with_last_items(data.sequences, rng.integers(0, N_ITEMS, data.sequences.n_users))
    test2 = leave_one_out(other, "test")
    np.testing.assert_array_equal(test2.history.items, test.history.items)
    data2 = BeautyData(other, data.n_items, data.attributes, data.titles)
    again = generate(data2, test2.history, sizes, sim=item_similarity(data2))
    np.testing.assert_array_equal(base.users, again.users)
    np.testing.assert_array_equal(base.items, again.items)
    np.testing.assert_array_equal(base.features, again.features)


def test_history_items_are_never_candidates() -> None:
    data = _data(3)
    test = leave_one_out(data.sequences, "test")
    users = np.array([4, 0, 17], dtype=np.int64)
    c = generate(data, test.history, SourceSizes(pool=60), users=users)
    hist = test.history.subset(users)
    for u in range(len(users)):
        h = set(hist.items[hist.indptr[u] : hist.indptr[u + 1]].tolist())
        cand = c.items[c.users == u]
        assert len(cand) == len(set(cand.tolist())) > 0
        assert h.isdisjoint(cand.tolist())


def test_pair_lookup_matches_scipy_indexing() -> None:
    rng = np.random.default_rng(0)
    m = sp.random(50, 70, density=0.2, random_state=1, dtype=np.float32, format="csr")
    m = sp.csr_matrix(m + sp.csr_matrix(([2.0], ([3], [4])), shape=(50, 70), dtype=np.float32))
    rows = rng.integers(-1, 50, 2000)
    cols = rng.integers(0, 70, 2000)
    got = _PairLookup(m)(rows, cols)
    assert got.dtype == np.float32
    ok = rows >= 0
    assert np.isnan(got[~ok]).all()
    np.testing.assert_array_equal(got[ok], np.asarray(m[rows[ok], cols[ok]]).ravel())
    assert (
        _PairLookup(sp.csr_matrix((5, 5), dtype=np.float32))(np.array([0]), np.array([1]))[0] == 0
    )


def test_sources_can_be_switched_off() -> None:
    data = _data(0)
    sizes = SourceSizes(seq=30, covis=30, content=20, popular=10, pool=40)
    test = leave_one_out(data.sequences, "test")
    only_seq = generate(data, test.history, sizes, sources=("seq",))
    assert "rank_seq" in only_seq.feature_names and "rank_covis" not in only_seq.feature_names
    ranks = only_seq.features[:, only_seq.feature_names.index("rank_seq")]
    assert not np.isnan(ranks).any()  # every candidate came from the one source left
    with pytest.raises(ValueError, match="unknown candidate sources"):
        generate(data, test.history, sizes, sources=("seq", "graph"))
