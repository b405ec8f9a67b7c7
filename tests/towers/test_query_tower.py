from __future__ import annotations

import pytest
import torch

from engine.core.segment import Segment
from towers.query_tower import QueryTower
from towers.text import TEXT_DIM


def _tower(dim: int = 64) -> QueryTower:
    torch.manual_seed(0)
    return QueryTower(item_dim=16, text_dim=TEXT_DIM, context_cardinalities=(2, 3), dim=dim).eval()


def _inputs(b: int, h: int, s: int, with_query: bool) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    return (
        torch.nn.functional.normalize(torch.randn(b, h, 16, generator=g), dim=-1),
        torch.ones(b, h, dtype=torch.bool),
        torch.nn.functional.normalize(torch.randn(b, s, 16, generator=g), dim=-1),
        torch.ones(b, s, dtype=torch.bool),
        torch.randn(b, TEXT_DIM, generator=g),
        torch.full((b,), with_query),
        torch.full((b,), int(Segment.heavy)),
        torch.zeros(b, 2, dtype=torch.int64),
    )


@pytest.mark.parametrize("dim", [64, 8])
def test_shapes_and_unit_norm(dim: int) -> None:
    with torch.no_grad():
        q = _tower(dim)(*_inputs(4, 5, 3, True))
    assert q.shape == (4, dim)
    assert torch.allclose(q.norm(dim=1), torch.ones(4), atol=1e-5)


def test_works_with_no_user_no_history_no_query() -> None:
    x = list(_inputs(2, 1, 1, False))
    x[1] = torch.zeros(2, 1, dtype=torch.bool)
    x[3] = torch.zeros(2, 1, dtype=torch.bool)
    x[6] = torch.full((2,), int(Segment.anonymous))
    with torch.no_grad():
        q = _tower()(*x)
    assert torch.isfinite(q).all()
    assert torch.allclose(q.norm(dim=1), torch.ones(2), atol=1e-5)


def test_masked_entries_are_ignored() -> None:
    x = list(_inputs(1, 4, 2, False))
    x[1] = torch.tensor([[True, True, False, False]])
    y = list(x)
    y[0] = x[0].clone()
    y[0][:, 2:] = 7.0  # garbage behind the mask
    tower = _tower()
    with torch.no_grad():
        assert torch.allclose(tower(*x), tower(*y))


def test_the_query_text_is_ignored_without_has_query() -> None:
    x = list(_inputs(1, 2, 1, False))
    y = list(x)
    y[4] = torch.zeros_like(x[4])
    tower = _tower()
    with torch.no_grad():
        assert torch.allclose(tower(*x), tower(*y))


def test_residual_paths_share_the_item_text_skip() -> None:
    from towers.model import TowerConfig, TwoTower

    model = TwoTower(TowerConfig(dim=16, hidden=32, residual=True)).eval()
    assert model.query.text_skip is model.item.skip  # one W_s for query and item text
    plain = TwoTower(TowerConfig(dim=16, hidden=32)).eval()
    assert plain.query.text_skip is None
    x = list(_inputs(3, 4, 2, True))
    x[0], x[2] = x[0][..., :16], x[2][..., :16]
    with torch.no_grad():
        q = model.query(*x)
    assert torch.allclose(q.norm(dim=1), torch.ones(3), atol=1e-5)


def test_with_residuals_a_query_text_lands_near_items_of_that_text() -> None:
    """Untrained: the shared skip alone must already tie a query to items of the same text."""
    from towers.model import TowerConfig, TwoTower

    torch.manual_seed(0)
    model = TwoTower(TowerConfig(dim=32, hidden=32, residual=True)).eval()
    g = torch.Generator().manual_seed(3)
    texts = torch.nn.functional.normalize(torch.randn(50, TEXT_DIM, generator=g), dim=-1)
    with torch.no_grad():
        z = model.item.skip(texts)  # the content path of each item
        q = model.query(
            torch.zeros(50, 1, 32),
            torch.zeros(50, 1, dtype=torch.bool),
            torch.zeros(50, 1, 32),
            torch.zeros(50, 1, dtype=torch.bool),
            texts,
            torch.ones(50, dtype=torch.bool),
            torch.zeros(50, dtype=torch.int64),
            torch.zeros(50, 1, dtype=torch.int64),
        )
    own = (q * torch.nn.functional.normalize(z, dim=-1)).sum(1)
    other = q @ torch.nn.functional.normalize(z, dim=-1).T
    assert float((other.argmax(dim=1) == torch.arange(50)).float().mean()) > 0.8
    assert float(own.mean()) > 0.3
