"""The Gowalla check-in data in LightGCN's split (``train.txt`` / ``test.txt``: one line per
user, ``user item item ...``, 0-based ids)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from graph.bipartite import Bipartite

PUBLISHED = {"recall@20": 0.1824, "ndcg@20": 0.1547}
"""gusye1234/LightGCN-PyTorch, 3 layers, 64 dims (the reference the issue names)."""


@dataclass(frozen=True, slots=True)
class Split:
    train: Bipartite
    test: sp.csr_matrix


def read_lists(path: Path) -> tuple[np.ndarray, np.ndarray]:
    users: list[int] = []
    items: list[int] = []
    with path.open() as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                ids = [int(p) for p in parts]
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not a list of integer ids") from exc
            users.extend([ids[0]] * (len(ids) - 1))
            items.extend(ids[1:])
    return np.asarray(users, np.int64), np.asarray(items, np.int64)


def load(directory: Path, max_users: int | None = None) -> Split:
    """Load the split; ``max_users`` keeps the first users only (a slice for quick runs: the item
    set stays whole so the ranking is still over every item)."""
    for name in ("train.txt", "test.txt"):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} not found: put LightGCN's Gowalla split there "
                "(see docs/graph.md)"
            )
    tu, ti = read_lists(directory / "train.txt")
    su, si = read_lists(directory / "test.txt")
    n_users = int(max(tu.max(), su.max())) + 1
    n_items = int(max(ti.max(), si.max())) + 1
    if max_users is not None:
        keep_t, keep_s = tu < max_users, su < max_users
        tu, ti, su, si = tu[keep_t], ti[keep_t], su[keep_s], si[keep_s]
        n_users = min(n_users, max_users)
    train = Bipartite.from_pairs(tu, ti, n_users, n_items)
    test = sp.csr_matrix(
        (np.ones(su.size, np.float32), (su, si)), shape=(n_users, n_items), dtype=np.float32
    )
    test.sum_duplicates()
    return Split(train, test)
