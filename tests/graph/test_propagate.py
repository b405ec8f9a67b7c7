import numpy as np
import torch
from torch_geometric.nn import LGConv
from torch_geometric.nn.models import LightGCN as PygLightGCN

from graph.bipartite import Bipartite
from graph.lightgcn import LightGCN
from graph.propagate import propagate


def _graph(seed: int = 0) -> Bipartite:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 30, 200)
    items = rng.integers(0, 50, 200)
    return Bipartite.from_pairs(users, items, 30, 50)


def _edge_index(g: Bipartite) -> torch.Tensor:
    coo = g.interactions.tocoo()
    u = torch.from_numpy(coo.row).long()
    i = torch.from_numpy(coo.col).long() + g.n_users
    return torch.stack([torch.cat([u, i]), torch.cat([i, u])])


def test_one_layer_equals_pyg_lgconv_on_the_square_graph() -> None:
    g = _graph()
    x = torch.randn(g.n_users + g.n_items, 8)
    ours_u, ours_i = propagate(g, x[: g.n_users], x[g.n_users :], layers=1)
    pyg = LGConv(normalize=True)(x, _edge_index(g))
    # propagate returns (x + A_hat x) / 2
    torch.testing.assert_close(torch.cat([ours_u, ours_i]) * 2 - x, pyg, rtol=1e-5, atol=1e-6)


def test_three_layers_equal_pyg_lightgcn_embeddings() -> None:
    g = _graph(1)
    ours = LightGCN(g.n_users, g.n_items, dim=16, layers=3)
    ref = PygLightGCN(g.n_users + g.n_items, 16, num_layers=3)
    with torch.no_grad():
        ref.embedding.weight.copy_(torch.cat([ours.user_emb, ours.item_emb]))
    fu, fi = ours.embeddings(g)
    expected = ref.get_embedding(_edge_index(g)).detach()
    torch.testing.assert_close(torch.cat([fu, fi]), expected, rtol=1e-5, atol=1e-6)


def test_gradients_match_autograd_through_a_dense_adjacency() -> None:
    g = _graph(2)
    xu = torch.randn(g.n_users, 4, requires_grad=True)
    xi = torch.randn(g.n_items, 4, requires_grad=True)
    fu, fi = propagate(g, xu, xi, layers=2)
    (fu.pow(2).sum() + fi[:7].sum()).backward()
    r = torch.from_numpy(g.r_hat.to_dense().numpy())
    a = torch.zeros(g.n_users + g.n_items, g.n_users + g.n_items)
    a[: g.n_users, g.n_users :] = r
    a[g.n_users :, : g.n_users] = r.T
    x = torch.cat([xu.detach(), xi.detach()]).requires_grad_(True)
    out = (x + a @ x + a @ (a @ x)) / 3
    (out[: g.n_users].pow(2).sum() + out[g.n_users : g.n_users + 7].sum()).backward()
    assert x.grad is not None and xu.grad is not None and xi.grad is not None
    torch.testing.assert_close(torch.cat([xu.grad, xi.grad]), x.grad, rtol=1e-4, atol=1e-5)
