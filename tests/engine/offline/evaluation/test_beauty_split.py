"""Leave-one-out split and sequence columns (no data needed)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.offline.evaluation.beauty_data import Sequences, leave_one_out


def _random_sequences(seed: int, n_users: int = 200) -> tuple[Sequences, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(0, 50, size=rng.integers(3, 15)) for _ in range(n_users)]
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    return Sequences(indptr, np.concatenate(seqs)), seqs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_targets_are_last_two_and_history_excludes_them(seed: int) -> None:
    seqs, lists = _random_sequences(seed)
    valid, test = leave_one_out(seqs, "valid"), leave_one_out(seqs, "test")
    for u, s in enumerate(lists):
        assert valid.targets[u] == s[-2] and test.targets[u] == s[-1]
        vh = valid.history.items[valid.history.indptr[u] : valid.history.indptr[u + 1]]
        th = test.history.items[test.history.indptr[u] : test.history.indptr[u + 1]]
        np.testing.assert_array_equal(vh, s[:-2])
        np.testing.assert_array_equal(th, s[:-1])  # the validation item is test history
    assert len(valid.history.items) == len(seqs.items) - 2 * seqs.n_users


def test_sequence_helpers() -> None:
    seqs, lists = _random_sequences(3, n_users=20)
    for j in (1, 2, 3):
        assert seqs.last(j).tolist() == [s[-j] for s in lists]
    assert seqs.last(100).tolist() == [-1] * 20
    sub = seqs.subset(np.array([5, 2]))
    np.testing.assert_array_equal(sub.items, np.concatenate([lists[5], lists[2]]))
    assert seqs.positions()[: len(lists[0])].tolist() == list(range(len(lists[0])))


def test_too_short_sequences_are_rejected() -> None:
    seqs = Sequences(np.array([0, 2]), np.array([1, 2]))
    with pytest.raises(ValueError):
        leave_one_out(seqs, "valid")
