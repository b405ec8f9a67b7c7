"""Query-tower inputs of a request, read from the engine's :class:`RequestContext`.

Training examples (logged requests replayed by :class:`ltr.logs.LogReplay`) and serving
requests go through :func:`query_inputs`, so the towers see at serving time exactly what they
were trained on: the user's recent items (none for an anonymous visitor), the session's recent
items, the query text on search, the surface and the segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.core.arrays import I64
from engine.core.contracts import Surface
from engine.core.pipeline.context import RequestContext
from engine.core.segment import Segment
from towers.config import TowerConfig
from towers.data import Examples
from towers.text import TextEncoder

SURFACE_ID = {Surface.feed: 0, Surface.search: 1}


@dataclass(frozen=True, slots=True)
class QueryInputs:
    history: I64  # catalog rows, oldest first, at most max_history
    session: I64  # catalog rows, oldest first, at most max_session
    query: str
    has_user: bool
    surface: int  # SURFACE_ID
    segment: Segment  # of the whole history (``history`` keeps its most recent items only)


def query_inputs(ctx: RequestContext, cfg: TowerConfig) -> QueryInputs:
    has_user = ctx.user_id is not None
    hist = ctx.user_history.rows[-cfg.max_history :] if has_user else np.zeros(0, np.int64)
    return QueryInputs(
        history=np.asarray(hist, np.int64),
        session=np.asarray(ctx.session.rows[-cfg.max_session :], np.int64),
        query=ctx.query.strip(),
        has_user=has_user,
        surface=SURFACE_ID[ctx.surface],
        segment=ctx.segment,
    )


def _csr(seqs: Sequence[I64]) -> tuple[I64, I64]:
    lengths = np.fromiter((len(s) for s in seqs), np.int64, count=len(seqs))
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = np.concatenate(list(seqs)).astype(np.int64) if seqs else np.zeros(0, np.int64)
    return indptr, items


def examples_of(
    inputs: Sequence[QueryInputs], targets: I64, encoder: TextEncoder, text_dim: int
) -> Examples:
    """Training or evaluation examples: ``inputs[k]`` should retrieve ``targets[k]``.

    Each example carries its own history (user ``k`` of the CSR); an example without a user
    has user ``-1`` and so an empty history and the anonymous segment, as at serving time.
    """
    n = len(inputs)
    seq_indptr, seq_items = _csr([q.history for q in inputs])
    sess_indptr, sess_items = _csr([q.session for q in inputs])
    has_user = np.fromiter((q.has_user for q in inputs), np.bool_, count=n)
    user = np.where(has_user, np.arange(n), -1).astype(np.int64)
    cut = np.diff(seq_indptr)
    queries = [q.query for q in inputs]
    has_query = np.fromiter((bool(q) for q in queries), np.bool_, count=n)
    text = np.zeros((n, text_dim), np.float32)
    if has_query.any():
        distinct = sorted({q for q in queries if q})
        emb = encoder.encode(distinct)
        pos = {q: i for i, q in enumerate(distinct)}
        idx = np.flatnonzero(has_query)
        text[idx] = emb[[pos[queries[i]] for i in idx.tolist()]]
    context = np.fromiter((q.surface for q in inputs), np.int64, count=n).reshape(n, 1)
    return Examples(
        seq_indptr,
        seq_items,
        user,
        cut,
        np.asarray(targets, np.int64),
        context,
        session_indptr=sess_indptr,
        session_items=sess_items,
        query_text=text,
        has_query=has_query,
        segment=np.fromiter((q.segment for q in inputs), np.int64, count=n),
    )
