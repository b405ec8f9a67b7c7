"""Turns an API request into a :class:`RequestContext`: state from the online store, ids to rows."""

from __future__ import annotations

import time
import uuid

import numpy as np

from engine.core.catalog import Catalog
from engine.core.contracts import FeedRequest, Filters, SearchRequest, Surface
from engine.core.online_store import Interaction, OnlineStore, StoreUnavailable
from engine.core.pipeline.context import KIND_CLICK, QUERY_LIMIT, History, RequestContext
from engine.core.search import SearchFilter

HISTORY_LIMIT = 50
SESSION_LIMIT = 30


def search_filter(f: Filters) -> SearchFilter:
    return SearchFilter(
        categories=tuple(f.categories) if f.categories else None,
        brands=tuple(f.brands) if f.brands else None,
        in_stock=True if f.in_stock_only else None,
        price_min=f.price_min,
        price_max=f.price_max,
    )


def history(catalog: Catalog, interactions: list[Interaction]) -> History:
    rows, kinds, ts = [], [], []
    for it in interactions:
        r = catalog.row_of.get(it.item_id)
        if r is not None:
            rows.append(r)
            kinds.append(it.kind)
            ts.append(it.ts)
    return History(
        np.asarray(rows, np.int64), np.asarray(kinds, np.int8), np.asarray(ts, np.float64)
    )


async def build_context(
    req: SearchRequest | FeedRequest,
    catalog: Catalog,
    store: OnlineStore,
    degraded: list[str],
    request_id: str | None = None,
) -> RequestContext:
    now = time.time()
    surface = Surface.search if isinstance(req, SearchRequest) else Surface.feed
    user_items: list[Interaction] = []
    session_items: list[Interaction] = []
    queries: list[tuple[str, float]] = []
    try:
        if req.user_id:
            user_items = await store.user(req.user_id, HISTORY_LIMIT)
        if req.session_id:
            session_items = await store.session(req.session_id, SESSION_LIMIT)
            if surface == Surface.feed:
                queries = await store.queries(req.session_id, QUERY_LIMIT)
    except StoreUnavailable as exc:
        degraded.append(f"online store unavailable ({exc}); no history used")
    session_items += [Interaction(i, KIND_CLICK, now) for i in req.session_items]
    return RequestContext(
        request_id=request_id or uuid.uuid4().hex,
        surface=surface,
        now=now,
        query=req.query if isinstance(req, SearchRequest) else "",
        user_id=req.user_id,
        session_id=req.session_id,
        user_history=history(catalog, user_items),
        session=history(catalog, session_items),
        session_queries=tuple(q for q, _ in queries),
        filters=search_filter(req.filters),
        page=req.page,
        page_size=req.page_size,
        explain=req.explain,
    )
