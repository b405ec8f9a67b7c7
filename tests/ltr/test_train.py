"""Training-set helpers: joining sets built on different snapshots, and the weight that
keeps anonymous requests from being drowned by signed-in ones."""

import numpy as np
import pytest

from ltr.train import TrainingSet, audience_weights


def _set(segments: list[int], rows: int = 2, t: float = 0.0) -> TrainingSet:
    seg = np.repeat(np.array(segments, np.float32), rows)
    x = np.stack([seg, np.arange(len(seg), dtype=np.float32)], axis=1)
    y = np.tile(np.array([1] + [0] * (rows - 1), np.int8), len(segments))
    group = np.full(len(segments), rows, np.int64)
    return TrainingSet(x, y, group, ("segment", "f"), (t, t + 1))


def test_concat_keeps_order_and_spans_the_windows() -> None:
    both = TrainingSet.concat([_set([0], t=5.0), _set([], t=9.0), _set([1, 2], t=1.0)])
    assert both.n_requests == 3 and both.X[:, 0].tolist() == [0, 0, 1, 1, 2, 2]
    assert both.window == (1.0, 6.0)
    with pytest.raises(ValueError, match="no logged request"):
        TrainingSet.concat([_set([])])
    other = _set([1])
    renamed = TrainingSet(other.X, other.y, other.group, ("segment", "g"), other.window)
    with pytest.raises(ValueError, match="different columns"):
        TrainingSet.concat([_set([1]), renamed])


def test_without_drops_the_named_columns_and_keeps_the_rows() -> None:
    full = _set([0, 1, 2])
    less = full.without(frozenset({"segment", "unknown"}))
    assert less.feature_names == ("f",) and less.X[:, 0].tolist() == full.X[:, 1].tolist()
    assert less.y.tolist() == full.y.tolist() and less.group.tolist() == full.group.tolist()
    assert less.segments() is None  # no segment column: no audience split


def test_anonymous_requests_get_at_least_their_share() -> None:
    ts = _set([0, 1, 2, 1, 2, 1, 2, 1, 2, 1])  # 1 anonymous request of 10
    w = audience_weights(ts, 1 / 3)
    assert w is not None
    anon = w[ts.X[:, 0] == 0].sum() / w.sum()
    assert anon == pytest.approx(1 / 3)
    assert audience_weights(_set([0, 0, 1]), 1 / 3) is None  # already two thirds
    assert audience_weights(_set([1, 2]), 1 / 3) is None  # nobody anonymous
    assert audience_weights(_set([0, 0]), 1 / 3) is None  # only anonymous
