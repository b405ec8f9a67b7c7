from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from towers.loss import corrected_logits, sampled_softmax_loss

# Two queries, two in-batch items, T = 0.5, sampling probabilities p = (0.5, 0.25).
Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
V = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
T = 0.5
P = (0.5, 0.25)


def _ce(logits: list[float], label: int) -> float:
    return -logits[label] + math.log(sum(math.exp(x) for x in logits))


def test_logq_correction_matches_a_hand_computed_case() -> None:
    # s^c(i, j) = <q_i, v_j> / T - log p_j, written out entry by entry:
    # row 1: <q1,v1> = 1.0, <q1,v2> = 0.6; row 2: <q2,v1> = 0.0, <q2,v2> = 0.8
    row1 = [1.0 / T - math.log(0.5), 0.6 / T - math.log(0.25)]  # 2.6931, 2.5863
    row2 = [0.0 / T - math.log(0.5), 0.8 / T - math.log(0.25)]  # 0.6931, 2.9863
    expected = (_ce(row1, 0) + _ce(row2, 1)) / 2
    # by hand: row 1 loss = log(1 + e^(2.5863 - 2.6931)) = log(1 + 0.8987) = 0.6412
    #          row 2 loss = log(1 + e^(0.6931 - 2.9863)) = log(1 + 0.1009) = 0.0962
    assert expected == pytest.approx((0.6412 + 0.0962) / 2, abs=2e-4)
    log_q = torch.log(torch.tensor(P))
    got = sampled_softmax_loss(Q, V, log_q, temperature=T)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    logits = corrected_logits(Q, V, log_q, T)
    assert logits.flatten().tolist() == pytest.approx(row1 + row2, rel=1e-6)


def test_correction_changes_the_loss_and_none_is_plain_softmax() -> None:
    plain = F.cross_entropy(Q @ V.T / T, torch.arange(2))
    assert float(sampled_softmax_loss(Q, V, None, temperature=T)) == pytest.approx(float(plain))
    corrected = sampled_softmax_loss(Q, V, torch.log(torch.tensor(P)), temperature=T)
    assert float(corrected) != pytest.approx(float(plain))
    # a constant shift of every log p cancels (only relative probabilities matter)
    shifted = sampled_softmax_loss(Q, V, torch.log(torch.tensor(P)) + 3.0, temperature=T)
    assert float(shifted) == pytest.approx(float(corrected), rel=1e-6)


def test_mixed_uniform_negative_uses_the_uniform_probability() -> None:
    u = torch.tensor([[0.0, -1.0]])
    p_u = 0.1
    row1 = [1.0 / T - math.log(0.5), 0.6 / T - math.log(0.25), 0.0 / T - math.log(p_u)]
    row2 = [0.0 / T - math.log(0.5), 0.8 / T - math.log(0.25), -1.0 / T - math.log(p_u)]
    expected = (_ce(row1, 0) + _ce(row2, 1)) / 2
    got = sampled_softmax_loss(
        Q,
        V,
        torch.log(torch.tensor(P)),
        temperature=T,
        negatives=u,
        log_q_negatives=torch.tensor([math.log(p_u)]),
    )
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_an_item_is_never_its_own_negative() -> None:
    # rows 0 and 1 share the positive item 7: each must not count the other's column
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ids = torch.tensor([7, 7, 3])
    got = sampled_softmax_loss(q, v, None, temperature=1.0, positive_ids=ids)
    row0 = _ce([1.0, 0.0], 0)  # column 1 masked
    row2 = _ce([0.0, 0.0, 1.0], 2)
    assert float(got) == pytest.approx((2 * row0 + row2) / 3, rel=1e-6)
    # a uniform draw of the row's own positive is masked too
    got2 = sampled_softmax_loss(
        q[2:],
        v[2:],
        None,
        temperature=1.0,
        positive_ids=ids[2:],
        negatives=torch.tensor([[0.0, 1.0]]),
        log_q_negatives=torch.zeros(1),
        negative_ids=torch.tensor([3]),
    )
    assert float(got2) == pytest.approx(0.0, abs=1e-7)
