"""Query tower: user history, session, query text, segment and context to a unit vector.

History and session items enter as item-tower outputs ``v`` (see :mod:`towers.item_tower`),
not as per-id embeddings, so an item ingested a minute ago is as good in a history as any.
Pooling over a sequence ``v_1..v_H`` (most recent first, ``mask`` marks real entries) mixes
recency and content::

    a_h = w_pos[h] + u . v_h          (learned position logits w_pos and content probe u)
    pool(v) = sum_h softmax_{h in mask}(a_h) v_h        (0 for an empty sequence)

With the projected query text ``W_q e_q`` (``e_q`` the 384-d MiniLM embedding, 0 without a
query), the user segment (anonymous / weak / heavy) embedding ``E_s[s]``, one embedding per
context field ``E_k[c_k]`` and the flags ``f = [has history, has session, has query]``::

    x = [ pool_H(v) ; v_1^H ; pool_S(v) ; v_1^S ; W_q e_q ; E_s[s] ; E_1[c_1] ; ... ; f ]
    q = W_2 GELU(LayerNorm(W_1 x + b_1)) + b_2 ,     q <- q / ||q||_2

``v_1^H`` and ``v_1^S`` are the most recent item of each (0 when empty). With
``residual`` on (:class:`towers.model.TowerConfig`), linear paths are added before the
normalisation, the text one shared with the item tower's skip ``W_s``::

    q <- q + g_H pool_H(v) + g_S pool_S(v) + W_s e_q

so from the first step a search query lands near items whose text is like it, and a feed
query near the items just viewed; the MLP learns the corrections. That matters when logs are
thin (few examples per query or item), the usual case for a marketplace's long tail.

With no user, no history and no query the input is the anonymous segment plus context alone:
the tower then returns a popularity-like direction, the right answer for a cold visitor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.core.segment import Segment


class _Pool(nn.Module):
    """``pool(v)`` of the module docstring, plus the most recent item."""

    def __init__(self, item_dim: int, max_len: int) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(max_len))
        self.probe = nn.Parameter(torch.zeros(item_dim))

    def forward(self, v: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        n = v.shape[1]
        a = self.pos[:n].unsqueeze(0) + v @ self.probe
        a = a.masked_fill(~mask, float("-inf"))
        w = torch.softmax(a, dim=1)
        w = torch.nan_to_num(w, nan=0.0)  # a row with no entries: all -inf -> NaN -> 0
        pooled = (w.unsqueeze(-1) * v).sum(dim=1)
        last = v[:, 0] * mask[:, :1].to(v.dtype) if n > 0 else torch.zeros_like(pooled)
        return pooled, last


class QueryTower(nn.Module):
    def __init__(
        self,
        *,
        item_dim: int,
        text_dim: int,
        context_cardinalities: Sequence[int] = (2,),
        dim: int = 64,
        max_history: int = 50,
        max_session: int = 20,
        text_proj_dim: int = 128,
        field_dim: int = 32,
        hidden: int = 256,
        dropout: float = 0.1,
        text_skip: nn.Linear | None = None,
    ) -> None:
        """``item_dim`` is the item tower's output dimension; ``context_cardinalities`` gives
        the number of values of each context field (e.g. surface: feed / search).
        ``text_skip`` (the item tower's ``W_s``, shared) switches on the residual paths."""
        super().__init__()
        self.text_skip = text_skip
        if text_skip is not None:
            self.gates = nn.Parameter(torch.ones(2))
        self.dim = dim
        self.item_dim = item_dim
        self.max_history = max_history
        self.max_session = max_session
        self.history = _Pool(item_dim, max_history)
        self.session = _Pool(item_dim, max_session)
        self.text_proj = nn.Linear(text_dim, text_proj_dim)
        self.segment = nn.Embedding(len(Segment), field_dim)
        self.context = nn.ModuleList(nn.Embedding(c, field_dim) for c in context_cardinalities)
        width = 4 * item_dim + text_proj_dim + (1 + len(context_cardinalities)) * field_dim + 3
        self.hidden = nn.Linear(width, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, dim)

    def forward(
        self,
        history: Tensor,
        history_mask: Tensor,
        session: Tensor,
        session_mask: Tensor,
        query_text: Tensor,
        has_query: Tensor,
        segment: Tensor,
        context: Tensor,
    ) -> Tensor:
        """``history [B, H, item_dim]`` / ``session [B, S, item_dim]`` most recent first with
        boolean masks; ``query_text [B, text_dim]``; ``has_query [B]`` bool; ``segment [B]``;
        ``context [B, n_fields]`` ids. Returns ``[B, dim]``, unit rows."""
        h_pool, h_last = self.history(
            history[:, : self.max_history], history_mask[:, : self.max_history]
        )
        s_pool, s_last = self.session(
            session[:, : self.max_session], session_mask[:, : self.max_session]
        )
        hq = has_query.to(query_text.dtype).unsqueeze(-1)
        parts = [
            h_pool,
            h_last,
            s_pool,
            s_last,
            self.text_proj(query_text) * hq,
            self.segment(segment),
        ]
        parts.extend(emb(context[:, k]) for k, emb in enumerate(self.context))
        flags = torch.stack(
            [history_mask.any(dim=1), session_mask.any(dim=1), has_query], dim=1
        ).to(query_text.dtype)
        parts.append(flags)
        x = torch.cat(parts, dim=-1)
        q = self.out(self.drop(F.gelu(self.norm(self.hidden(x)))))
        if self.text_skip is not None:
            q = q + self.gates[0] * h_pool + self.gates[1] * s_pool
            q = q + self.text_skip(query_text) * hq
        return F.normalize(q, dim=-1)
