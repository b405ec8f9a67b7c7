from __future__ import annotations

import pytest
import torch

from towers.query_tower import QueryTower, Segment, segment_of
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
        torch.full((b,), int(Segment.HEAVY)),
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
    x[6] = torch.full((2,), int(Segment.ANONYMOUS))
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


def test_segments() -> None:
    assert segment_of(False, 10) is Segment.ANONYMOUS
    assert segment_of(True, 0) is Segment.WEAK
    assert segment_of(True, 4) is Segment.WEAK
    assert segment_of(True, 5) is Segment.HEAVY
