"""Full-ranking evaluation of user/item embeddings (the LightGCN protocol).

Every item is scored for every evaluated user; the user's training items are excluded; Recall@K
is hits over the number of the user's held-out items, NDCG@K is binary with the ideal DCG over
``min(#held-out, K)``; both are averaged over users with at least one held-out item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass(frozen=True, slots=True)
class RankingMetrics:
    k: int
    recall: float
    ndcg: float
    users: int

    def as_dict(self) -> dict[str, float | int]:
        return {f"recall@{self.k}": self.recall, f"ndcg@{self.k}": self.ndcg, "users": self.users}


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
    non-zero = relevant), excluding ``train`` items from each user's ranking."""
    if train.shape != test.shape:
        raise ValueError("train and test must have the same shape")
    n_test = np.diff(test.indptr)
    users = np.flatnonzero(n_test)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    recall_sum = ndcg_sum = 0.0
    for lo in range(0, users.size, chunk):
        batch = users[lo : lo + chunk]
        scores = user_vectors[torch.from_numpy(batch)] @ item_vectors.T
        seen = train[batch].tocoo()
        scores[torch.from_numpy(seen.row).long(), torch.from_numpy(seen.col).long()] = -torch.inf
        top = torch.topk(scores, k, dim=1).indices.numpy().copy()
        rel = test[batch]
        hits = np.asarray(rel[np.arange(batch.size)[:, None], top].todense()) > 0
        n_rel = n_test[batch]
        recall_sum += float((hits.sum(1) / n_rel).sum())
        dcg = (hits * discounts).sum(1)
        ndcg_sum += float((dcg / ideal[np.minimum(n_rel, k) - 1]).sum())
    n = max(users.size, 1)
    return RankingMetrics(k, recall_sum / n, ndcg_sum / n, int(users.size))
