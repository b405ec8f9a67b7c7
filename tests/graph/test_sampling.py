import numpy as np
import pytest

from graph.bipartite import Bipartite
from graph.sampling import BprSampler


def test_positives_are_interactions_and_negatives_never_are() -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 40, 600), rng.integers(0, 25, 600)
    g = Bipartite.from_pairs(users, items, 45, 25)  # users 40..44 have no interaction
    dense = g.interactions.toarray() > 0
    u, p, n = BprSampler(g.interactions, seed=3).sample(20_000)
    assert dense[u, p].all()
    assert not dense[u, n].any()
    assert u.max() < 40
    # users are drawn uniformly among active ones
    counts = np.bincount(u, minlength=40)
    assert counts.min() > 0.6 * counts.mean()


def test_a_user_with_every_item_is_refused() -> None:
    g = Bipartite.from_pairs(np.array([0, 0]), np.array([0, 1]), 1, 2)
    with pytest.raises(ValueError, match="no negative"):
        BprSampler(g.interactions)


def test_several_negatives_per_pair_are_all_negatives() -> None:
    rng = np.random.default_rng(1)
    g = Bipartite.from_pairs(rng.integers(0, 20, 300), rng.integers(0, 30, 300), 20, 30)
    dense = g.interactions.toarray() > 0
    u, p, n = BprSampler(g.interactions, seed=0).sample(500, negatives=6)
    assert n.shape == (500, 6) and u.shape == p.shape == (500,)
    assert dense[u, p].all()
    assert not dense[u[:, None], n].any()
    assert len({tuple(row) for row in n.tolist()}) > 400  # independent draws
