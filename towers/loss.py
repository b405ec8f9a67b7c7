"""Sampled softmax with in-batch negatives and the logQ correction (Yi et al., RecSys 2019).

For a batch of ``B`` (query, positive item) pairs with unit vectors ``q_i`` and ``v_i``, and
optionally ``M`` extra negatives ``u_1..u_M`` drawn uniformly from the catalogue (mixed negative
sampling, Yang et al., WWW 2020 companion), every logit is corrected by the log of the
probability that its item is sampled into the batch::

    s^c(i, j) = <q_i, v_j> / T - log p_j           (in-batch item j, p_j its sampling prob.)
    s^c(i, m) = <q_i, u_m> / T - log p_U           (uniform negative m, p_U = M / N)

    loss = -(1/B) sum_i log( exp s^c(i, i) / (sum_j exp s^c(i, j) + sum_m exp s^c(i, m)) )

The positive's own logit is corrected too, as in the paper (Eq. 3). ``p_j`` and ``p_U`` must
be on the same scale (probability of being in one batch, see :mod:`towers.frequency`); a
constant factor common to every column cancels. A column holding the same item as row
``i``'s positive (a repeated item in the batch, or a uniform draw of it) is masked out, so an
item is never its own negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def corrected_logits(
    queries: Tensor,
    items: Tensor,
    log_q: Tensor | None,
    temperature: float,
) -> Tensor:
    """``[B, C]`` matrix ``<q_i, v_j> / T - log p_j`` (no correction when ``log_q`` is None)."""
    s = queries @ items.T / temperature
    return s if log_q is None else s - log_q.unsqueeze(0)


def sampled_softmax_loss(
    queries: Tensor,
    positives: Tensor,
    log_q: Tensor | None,
    *,
    temperature: float,
    positive_ids: Tensor | None = None,
    negatives: Tensor | None = None,
    log_q_negatives: Tensor | None = None,
    negative_ids: Tensor | None = None,
) -> Tensor:
    """Mean corrected sampled-softmax loss; row ``i``'s label is column ``i``.

    ``queries [B, d]``, ``positives [B, d]``, ``log_q [B]`` (log sampling probability of each
    positive as an in-batch candidate, or None for the uncorrected loss); ``negatives [M, d]``
    with ``log_q_negatives [M]`` for mixed negatives. ``positive_ids [B]`` / ``negative_ids
    [M]`` enable masking of accidental hits."""
    logits = corrected_logits(queries, positives, log_q, temperature)
    b = logits.shape[0]
    diag = torch.eye(b, dtype=torch.bool, device=logits.device)
    if positive_ids is not None:
        clash = (positive_ids.unsqueeze(1) == positive_ids.unsqueeze(0)) & ~diag
        logits = logits.masked_fill(clash, float("-inf"))
    if negatives is not None:
        neg = corrected_logits(queries, negatives, log_q_negatives, temperature)
        if positive_ids is not None and negative_ids is not None:
            neg = neg.masked_fill(
                positive_ids.unsqueeze(1) == negative_ids.unsqueeze(0), float("-inf")
            )
        logits = torch.cat([logits, neg], dim=1)
    labels = torch.arange(b, device=logits.device)
    return F.cross_entropy(logits, labels)
