"""LightGCN (He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
Recommendation", SIGIR 2020).

Only the layer-0 embeddings ``E^(0)`` are parameters. Each layer is
``E^(k+1) = D^-1/2 A D^-1/2 E^(k)`` with no weights and no non-linearity, and the final
embedding is ``E = sum_k E^(k) / (K + 1)``. A user-item score is ``e_u . e_i``. Training uses
BPR: ``-log sigmoid(e_u.e_p - e_u.e_n)`` plus an L2 penalty on the layer-0 embeddings of the
batch, halved and divided by the batch size as in the reference code.
"""

from __future__ import annotations

import torch
from torch import nn

from graph.bipartite import Bipartite
from graph.propagate import propagate


def _rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``table[idx]`` whose backward is an ``index_add`` (on CPU several times faster than the
    sorted ``index_put`` that advanced indexing's backward runs)."""
    return table.index_select(0, idx)


class LightGCN(nn.Module):
    """Layer-0 user and item tables (``normal(0, init_std)``), ``layers`` propagation steps."""

    def __init__(
        self, n_users: int, n_items: int, dim: int = 64, layers: int = 3, init_std: float = 0.1
    ) -> None:
        super().__init__()
        if layers < 0:
            raise ValueError("layers must be >= 0")
        self.layers = layers
        self.user_emb = nn.Parameter(torch.randn(n_users, dim) * init_std)
        self.item_emb = nn.Parameter(torch.randn(n_items, dim) * init_std)

    @property
    def dim(self) -> int:
        return int(self.user_emb.shape[1])

    def forward(self, graph: Bipartite) -> tuple[torch.Tensor, torch.Tensor]:
        """Final ``(users, items)`` embeddings after propagation."""
        if graph.n_users != self.user_emb.shape[0] or graph.n_items != self.item_emb.shape[0]:
            raise ValueError("graph and model disagree on the number of users or items")
        return propagate(graph, self.user_emb, self.item_emb, self.layers)

    def bpr_loss(
        self,
        graph: Bipartite,
        users: torch.Tensor,
        pos: torch.Tensor,
        neg: torch.Tensor,
        l2: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, bpr, reg)`` for a batch of (user, positive item, negative item) triples.

        ``neg`` may be ``(batch, m)``: m negatives per pair. The loss is then the mean BPR term
        over all m pairs and the penalty takes the mean over the m negatives: an estimate of the
        same objective as one negative, with less variance, for the cost of a gather."""
        fu, fi = self(graph)
        flat = neg.reshape(-1)
        u, p, n = _rows(fu, users), _rows(fi, pos), _rows(fi, flat)
        if neg.dim() == 1:
            margin = (u * p).sum(-1) - (u * n).sum(-1)
        else:
            n = n.view(*neg.shape, -1)
            margin = (u * p).sum(-1, keepdim=True) - torch.einsum("bd,bmd->bm", u, n)
        neg_sq = _rows(self.item_emb, flat).pow(2).sum() / float(flat.numel() // neg.shape[0])
        bpr = nn.functional.softplus(-margin).mean()
        batch_sq = _rows(self.user_emb, users).pow(2).sum() + _rows(self.item_emb, pos).pow(2).sum()
        batch_sq = batch_sq + neg_sq
        reg = 0.5 * batch_sq / float(users.numel())
        return bpr + l2 * reg, bpr.detach(), reg.detach()

    @torch.no_grad()
    def embeddings(self, graph: Bipartite) -> tuple[torch.Tensor, torch.Tensor]:
        """Final embeddings without gradients (for evaluation and export)."""
        fu, fi = self(graph)
        return fu.detach(), fi.detach()
