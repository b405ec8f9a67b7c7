import numpy as np
import pytest

from engine.core.columns import RaggedInts


def _rows(*r: int) -> np.ndarray:
    return np.array(r, dtype=np.int64)


def test_ragged_set_gather_and_rewrite() -> None:
    rag = RaggedInts()
    rag.set(0, [5, 6, 7])
    rag.set(2, [9])
    assert len(rag) == 3 and rag[1].tolist() == []  # row 1 was never written: empty
    values, lengths = rag.gather(_rows(2, 0, 1, 2))
    assert values.tolist() == [9, 5, 6, 7, 9] and lengths.tolist() == [1, 3, 0, 1]
    rag.set(0, [1])
    rag.set(0, [2, 3])  # rewritten twice before the next read: the last write wins
    rag.set(1, np.array([4], dtype=np.int32))
    values, lengths = rag.gather(_rows(0, 1, 2))
    assert values.tolist() == [2, 3, 4, 9] and lengths.tolist() == [2, 1, 1]
    assert rag[0].tolist() == [2, 3]
    empty, lengths = rag.gather(_rows())
    assert empty.tolist() == [] and lengths.tolist() == []
    with pytest.raises(IndexError):
        rag[3]


def test_ragged_repacks_garbage() -> None:
    rng = np.random.default_rng(0)
    rag = RaggedInts(compact_min=10)
    want: dict[int, list[int]] = {}
    for step in range(300):
        row = int(rng.integers(20))
        vals = rng.integers(0, 1000, size=int(rng.integers(0, 6))).tolist()
        rag.set(row, vals)
        want[row] = vals
        if step % 7 == 0:
            rag.gather(_rows(0))  # packs the queued writes
    rows = np.arange(20, dtype=np.int64)
    values, lengths = rag.gather(rows)
    expect = [want.get(r, []) for r in range(20)]
    assert lengths.tolist() == [len(v) for v in expect]
    assert values.tolist() == [x for v in expect for x in v]
    assert len(rag._flat) <= 2 * int(lengths.sum()) + 10  # garbage was dropped
