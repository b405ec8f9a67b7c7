import numpy as np
import pytest

from graph.bipartite import Bipartite


def test_duplicates_merge_and_degrees_count_distinct_pairs() -> None:
    g = Bipartite.from_pairs(np.array([0, 0, 0, 1]), np.array([2, 2, 1, 2]), 3, 4)
    assert g.n_edges == 3
    assert g.user_items(0).tolist() == [1, 2]
    assert g.user_degree().tolist() == [2, 1, 0]
    assert g.item_degree().tolist() == [0, 1, 2, 0]
    r = g.r_hat.to_dense().numpy()
    assert r[0, 2] == pytest.approx(1 / np.sqrt(2 * 2))
    assert r[1, 2] == pytest.approx(1 / np.sqrt(1 * 2))
    np.testing.assert_allclose(g.r_hat_t.to_dense().numpy(), r.T)


def test_ids_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="item ids"):
        Bipartite.from_pairs(np.array([0]), np.array([4]), 1, 4)
    with pytest.raises(ValueError, match="same length"):
        Bipartite.from_pairs(np.array([0, 1]), np.array([0]), 2, 4)
