"""Full-ranking evaluation of user/item embeddings (the LightGCN protocol).

Every item is scored for every evaluated user; the user's training items are excluded; Recall@K
is hits over the number of the user's held-out items, NDCG@K is binary with the ideal DCG over
``min(#held-out, K)``; both are averaged over users with at least one held-out item. The ranking
and the metrics are :mod:`engine.core.ranking_metrics` (checked against ranx); this module only
scores users in chunks and averages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from engine.core import ranking_metrics
from engine.core.arrays import I64


@dataclass(frozen=True, slots=True)
class RankingMetrics:
    k: int
    recall: float
    ndcg: float
    users: int

    def as_dict(self) -> dict[str, float | int]:
        return {f"recall@{self.k}": self.recall, f"ndcg@{self.k}": self.ndcg, "users": self.users}


def _rows(m: sp.csr_matrix, positive: bool = False) -> tuple[I64, I64]:
    """``(indptr, items)`` of the stored entries of ``m`` (only those > 0 if ``positive``)."""
    indptr = np.asarray(m.indptr, dtype=np.int64)
    items = np.asarray(m.indices, dtype=np.int64)
    if not positive:
        return indptr, items
    keep = np.asarray(m.data) > 0
    owner = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(indptr))
    kept = np.zeros_like(indptr)
    np.cumsum(np.bincount(owner[keep], minlength=m.shape[0]), out=kept[1:])
    return kept, items[keep]


@torch.no_grad()
def full_ranking(
    user_vectors: torch.Tensor,
    item_vectors: torch.Tensor,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int = 20,
    chunk: int = 2048,
) -> RankingMetrics:
    """Recall@k and NDCG@k of ``user_vectors @ item_vectors.T`` against ``test`` (user x item,
    non-zero = relevant), excluding ``train`` items from each user's ranking.

    A user is evaluated, and the recall denominator counted, over ``test``'s stored entries (a
    stored zero counts as held out but is never hit). A user with fewer than ``k`` items outside
    ``train`` gets a shorter list; ties go to the lower item index."""
    if train.shape != test.shape:
        raise ValueError("train and test must have the same shape")
    train, test = sp.csr_matrix(train), sp.csr_matrix(test)
    n_test = np.diff(test.indptr).astype(np.int64)
    users = np.flatnonzero(n_test)
    recall_sum = ndcg_sum = 0.0
    for lo in range(0, users.size, chunk):
        batch = users[lo : lo + chunk]
        scores = (user_vectors[torch.from_numpy(batch)] @ item_vectors.T).cpu().numpy()
        recall, ndcg = ranking_metrics.recall_ndcg_from_scores(
            scores,
            _rows(test[batch], positive=True),
            k,
            exclude=_rows(train[batch]),
            n_relevant=n_test[batch],
        )
        recall_sum += float(recall.sum())
        ndcg_sum += float(ndcg.sum())
    n = max(users.size, 1)
    return RankingMetrics(k, recall_sum / n, ndcg_sum / n, int(users.size))
