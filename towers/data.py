"""Queries (training examples or serving requests) as columns, and batch assembly.

Example ``k`` is: the user's sequence ``user[k]`` (CSR ``seq_indptr`` / ``seq_items``, oldest
first; ``user[k] = -1`` for no user) cut before position ``cut[k]``, so the history is
``seq_items[start : start + cut[k]]``; optionally a session (CSR per example), a query text
embedding, context ids, and the target item (``-1`` when there is none, at serving time).
Holding the sequences once and a cut per example keeps every prefix of every user without
copying histories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.arrays import F32, I64, Bool
from engine.core.segment import segments_of


@dataclass(frozen=True, slots=True)
class Examples:
    seq_indptr: I64
    seq_items: I64
    user: I64
    cut: I64
    target: I64
    context: I64  # [n, n_context_fields]
    session_indptr: I64 | None = None
    session_items: I64 | None = None
    query_text: F32 | None = None  # [n, text_dim], zero rows where there is no query
    has_query: Bool | None = None
    segment: I64 | None = None  # Segment ids of the requests; else from the history lengths

    def __len__(self) -> int:
        return len(self.user)

    def history_bounds(self, idx: I64) -> tuple[I64, I64]:
        """``(start, end)`` of each example's history in ``seq_items``; empty for no user."""
        u = self.user[idx]
        known = u >= 0
        start = np.where(known, self.seq_indptr[np.maximum(u, 0)], 0)
        end = np.where(known, start + self.cut[idx], 0)
        return start, end


@dataclass(frozen=True, slots=True)
class QueryBatch:
    """Item rows most recent first, ``-1`` padded; ``segment`` as :class:`Segment` ids."""

    history: I64  # [B, H]
    session: I64  # [B, S]
    query_text: F32  # [B, text_dim]
    has_query: Bool  # [B]
    segment: I64  # [B]
    context: I64  # [B, C]


def _recent(indptr_start: I64, end: I64, items: I64, width: int) -> I64:
    out = np.full((len(end), max(width, 1)), -1, np.int64)
    for h in range(width):
        pos = end - 1 - h
        ok = pos >= indptr_start
        out[ok, h] = items[pos[ok]]
    return out


def query_batch(
    ex: Examples,
    idx: I64,
    *,
    max_history: int,
    max_session: int,
    text_dim: int,
) -> QueryBatch:
    start, end = ex.history_bounds(idx)
    history = _recent(start, end, ex.seq_items, max_history)
    if ex.session_indptr is not None and ex.session_items is not None:
        s0, s1 = ex.session_indptr[idx], ex.session_indptr[idx + 1]
        session = _recent(s0, s1, ex.session_items, max_session)
    else:
        session = np.full((len(idx), 1), -1, np.int64)
    if ex.query_text is not None and ex.has_query is not None:
        qt, hq = ex.query_text[idx], ex.has_query[idx]
    else:
        qt, hq = np.zeros((len(idx), text_dim), np.float32), np.zeros(len(idx), np.bool_)
    if ex.segment is not None:
        segment = ex.segment[idx]
    else:
        segment = segments_of(end - start, ex.user[idx] >= 0)
    return QueryBatch(history, session, qt, hq, segment, ex.context[idx])


def sequence_examples(
    seq_indptr: I64, seq_items: I64, cuts: I64, users: I64, n_context: int = 1
) -> Examples:
    """Examples predicting ``seq_items[start + cut]`` from the ``cut`` items before it."""
    target = seq_items[seq_indptr[users] + cuts]
    return Examples(
        seq_indptr, seq_items, users, cuts, target, np.zeros((len(users), n_context), np.int64)
    )
