"""LightGCN propagation over a :class:`~graph.bipartite.Bipartite` graph.

One layer maps ``(x_u, x_i)`` to ``(R_hat x_i, R_hat^T x_u)``: exactly ``A_hat x`` for the
symmetric normalised adjacency, which is what ``torch_geometric.nn.LGConv`` computes on the
square graph (``tests/graph/test_propagate.py`` checks the two agree). The backward pass of a
product with ``R_hat`` is a product with ``R_hat^T``, so both directions run on row-major CSR
tensors; torch's generic sparse backward would transpose on every step.
"""

from __future__ import annotations

from typing import Any

import torch

from graph.bipartite import Bipartite


class _Spmm(torch.autograd.Function):
    """``y = M x`` for a fixed sparse ``M`` whose transpose ``mt`` is given."""

    @staticmethod
    def forward(ctx: Any, m: torch.Tensor, mt: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.mt = mt
        out: torch.Tensor = torch.sparse.mm(m, x)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        return None, None, torch.sparse.mm(ctx.mt, grad)


def layer(
    graph: Bipartite, x_users: torch.Tensor, x_items: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One propagation step ``A_hat [x_u; x_i]``."""
    users = _Spmm.apply(graph.r_hat, graph.r_hat_t, x_items)
    items = _Spmm.apply(graph.r_hat_t, graph.r_hat, x_users)
    return users, items


def propagate(
    graph: Bipartite, x_users: torch.Tensor, x_items: torch.Tensor, layers: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the layer outputs ``sum_{k=0..K} A_hat^k x / (K + 1)`` (LightGCN's readout with
    uniform ``alpha_k = 1 / (K + 1)``)."""
    out_u, out_i = x_users, x_items
    cur_u, cur_i = x_users, x_items
    for _ in range(layers):
        cur_u, cur_i = layer(graph, cur_u, cur_i)
        out_u = out_u + cur_u
        out_i = out_i + cur_i
    scale = 1.0 / (layers + 1)
    return out_u * scale, out_i * scale
