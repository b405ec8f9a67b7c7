"""Hybrid fusion: RRF and guarded min-max on hand-checked lists."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.search import Hits
from search_plugins.fusion import FusionParams, fuse, guarded_minmax, minmax, rrf


def hits(ids: str, scores: list[float]) -> Hits:
    return Hits(list(ids), np.array(scores, dtype=np.float32))


def test_rrf_sums_reciprocal_ranks() -> None:
    got = rrf([hits("abc", [9, 5, 1]), hits("ca", [0.9, 0.8])], 10, rrf_k=60)
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62
    assert got.ids == ["a", "c", "b"]
    np.testing.assert_allclose(got.scores, [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62], rtol=1e-6)


def test_rrf_weights_and_k() -> None:
    got = rrf([hits("ab", [2, 1]), hits("ba", [2, 1])], 1, weights=[1.0, 3.0])
    assert got.ids == ["b"]


def test_minmax_without_outlier_is_plain_minmax() -> None:
    np.testing.assert_allclose(
        guarded_minmax(np.array([10, 8, 6, 4, 2], np.float32)), [1, 0.75, 0.5, 0.25, 0]
    )


def test_outlier_does_not_squash_the_rest() -> None:
    scores = np.array([500.0, 10, 9, 8, 7, 6, 5, 4], dtype=np.float32)
    plain = (scores - scores.min()) / (scores.max() - scores.min())
    guarded = guarded_minmax(scores)
    assert guarded[0] == 1.0 and guarded[1] == 1.0  # the outlier is clipped to the anchor
    assert guarded[2] > 0.8 > plain[2]
    assert guarded[-1] == 0.0


def test_degenerate_lists() -> None:
    assert len(guarded_minmax(np.zeros(0, np.float32))) == 0
    np.testing.assert_array_equal(guarded_minmax(np.array([3, 3], np.float32)), [1, 1])
    assert fuse(Hits.empty(), Hits.empty(), 5).ids == []


@pytest.mark.parametrize("method", ["rrf", "minmax"])
def test_item_found_by_both_lists_wins(method: str) -> None:
    lex = hits("xay", [10, 9.5, 9])
    vec = hits("zaw", [0.9, 0.85, 0.1])
    got = fuse(lex, vec, 3, FusionParams(method=method))  # type: ignore[arg-type]
    assert got.ids[0] == "a"
    assert len(got) == 3


def test_minmax_weights() -> None:
    got = minmax([hits("ab", [2, 1]), hits("ba", [2, 1])], 2, weights=[1.0, 0.5])
    assert got.ids == ["a", "b"]
