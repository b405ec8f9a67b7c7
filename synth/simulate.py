"""The logging policy that fills each page, and the users' responses to it.

Policy: every request draws ``page + 5`` candidates from a mixture of sources (favourite
leaves, root affinity, popularity, fresh items, the query's leaf/mid/root for search, the
complementary leaf after a purchase), dedupes them and orders them by a noisy score::

    s = 0.5 log(pop) + Gumbel(0, 1) + 0.5 [logged in] (u + N(0, 1)) + text match + complement

Responses: the item at 0-based position ``k`` is examined with probability
``(1 + k) ** -EXAM_DECAY`` and clicked with ``sigmoid(u_ctx + N(0, 0.5) - CLICK_BIAS)``; a click
becomes a cart with ``P_CART sigmoid(u_ctx - 1.5)`` (never when out of stock) and a cart a
purchase with ``P_BUY sigmoid(u_ctx - 1)``. For search ``u_ctx = 0.5 u + relevance``
(relevance +2 in the query's leaf, 0 in its mid category, -2 elsewhere, plus brand and colour
matches).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32, F64, I32, I64, Bool
from synth.catalog import Catalog
from synth.sampling import ItemSampler
from synth.taxonomy import Taxonomy
from synth.users import HEAVY, WEAK, Users, base_utility

EXAM_DECAY = 0.8
CLICK_BIAS = 3.8
P_CART, P_BUY = 0.45, 0.6
PAGE_MIN, PAGE_MAX, EXTRA = 10, 20, 5
CHUNK = 60_000
# Sources: fav leaf, root by affinity, popular, fresh, fav mid, uniform, query leaf, query mid,
# query root, complement leaf, any root.
FAV, ROOT, POP, FRESH, FAVMID, UNIFORM, QLEAF, QMID, QROOT, BOOST, ANYROOT = range(11)
# Request types: feed (logged in / anonymous), search (policy matched the query's leaf or not),
# complement follow-up (logged in / anonymous).
MIX = np.array(
    [
        [0.30, 0.25, 0.18, 0.08, 0.12, 0.04, 0, 0, 0, 0, 0.03],
        [0, 0, 0.50, 0.12, 0, 0.08, 0, 0, 0, 0, 0.30],
        [0, 0, 0.05, 0, 0, 0, 0.70, 0.15, 0.10, 0, 0],
        [0, 0, 0.15, 0, 0, 0.05, 0.30, 0.30, 0.20, 0, 0],
        [0.20, 0.15, 0.12, 0.05, 0.08, 0.02, 0, 0, 0, 0.35, 0.03],
        [0, 0, 0.35, 0.08, 0, 0.05, 0, 0, 0, 0.35, 0.17],
    ]
)
MIX_CUM = (np.arange(len(MIX))[:, None] + np.cumsum(MIX / MIX.sum(1, keepdims=True), 1)).ravel()


@dataclass(frozen=True)
class Batch:
    """Requests to serve. ``qleaf``/``qbrand``/``qcolor`` are -1 for feed requests."""

    ts: F64
    user: I64
    search: Bool
    qleaf: I64
    qbrand: I32
    qcolor: I32
    knows: Bool  # the policy's text match found the query's leaf
    boost: I64  # complementary leaf of a follow-up request, or -1


@dataclass(frozen=True)
class Served:
    page_req: I64  # impressions: request (batch row), item, position
    page_item: I64
    page_pos: I64
    act_req: I64  # responses: request, item, kind (1 click, 2 cart, 3 purchase), time
    act_item: I64
    act_kind: npt.NDArray[np.int8]
    act_ts: F64


@dataclass(frozen=True)
class World:
    tax: Taxonomy
    cat: Catalog
    users: Users
    sampler: ItemSampler
    rel_price: F32
    end: float

    @property
    def logged_in(self) -> Bool:
        seg = self.users.segment
        out: Bool = (seg == WEAK) | (seg == HEAVY)
        return out


def _sigmoid(x: npt.NDArray[np.floating]) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    return out


def _candidates(rng: np.random.Generator, w: World, b: Batch, rep: I64, kind: I64) -> I64:
    tax, n = w.tax, len(rep)
    src = np.searchsorted(MIX_CUM, kind + rng.random(n) * 0.999999, "right") - kind * MIX.shape[1]
    user = b.user[rep]
    fav = w.users.draw_fav(rng, user)
    root = w.users.draw_root(rng, user)
    any_root = rng.integers(0, tax.n_roots, n)
    qleaf = np.maximum(b.qleaf[rep], 0)
    boost = np.maximum(b.boost[rep], 0)
    mid_lo, mid_hi = tax.mid_range()
    root_lo, root_hi = tax.root_range()
    qmid, fmid, qroot = tax.leaf_mid[qleaf], tax.leaf_mid[fav], tax.leaf_root[qleaf]
    conds = [src == s for s in (FAV, FAVMID, QLEAF, QMID, QROOT, BOOST, ROOT, ANYROOT)]
    first = np.select(
        conds,
        [
            fav,
            mid_lo[fmid],
            qleaf,
            mid_lo[qmid],
            root_lo[qroot],
            boost,
            root_lo[root],
            root_lo[any_root],
        ],
        0,
    )
    last = np.select(
        conds,
        [
            fav + 1,
            mid_hi[fmid],
            qleaf + 1,
            mid_hi[qmid],
            root_hi[qroot],
            boost + 1,
            root_hi[root],
            root_hi[any_root],
        ],
        tax.n_leaves,
    )
    items = w.sampler.draw(rng, first.astype(np.int64), last.astype(np.int64))
    fresh = src == FRESH
    items[fresh] = w.sampler.fresh(rng, b.ts[rep[fresh]])
    uni = src == UNIFORM
    items[uni] = rng.integers(0, w.cat.n, int(uni.sum()))
    return w.sampler.fix_unborn(rng, items, b.ts[rep], w.cat.leaf)


def _serve_chunk(rng: np.random.Generator, w: World, b: Batch) -> Served:
    cat, tax, n = w.cat, w.tax, len(b.ts)
    logged = w.logged_in[b.user]
    kind = np.where(
        b.boost >= 0,
        np.where(logged, 4, 5),
        np.where(b.search, np.where(b.knows, 2, 3), np.where(logged, 0, 1)),
    )
    page = rng.integers(PAGE_MIN, PAGE_MAX + 1, n)
    rep = np.repeat(np.arange(n, dtype=np.int64), page + EXTRA)
    items = _candidates(rng, w, b, rep, kind[rep].astype(np.int64))
    key = np.unique(rep * cat.n + items)
    req, item = key // cat.n, key % cat.n

    u = base_utility(w.users, cat, w.rel_price, b.user[req], item)
    leaf, srch = cat.leaf[item], b.search[req]
    qleaf = b.qleaf[req]
    q_safe = np.maximum(qleaf, 0)
    in_leaf = leaf == qleaf
    in_mid = srch & (tax.leaf_mid[leaf] == tax.leaf_mid[q_safe])
    brand = (b.qbrand[req] >= 0) & (cat.brand[item] == b.qbrand[req])
    color = (
        (b.qcolor[req] >= 0)
        & (cat.color[item] == b.qcolor[req])
        & (cat.root[item] == tax.leaf_root[q_safe])
    )
    boost = leaf == b.boost[req]
    relevance = np.where(in_leaf, 2.0, np.where(in_mid, 0.0, -2.0)) + 0.8 * brand + 0.5 * color
    u_ctx = np.where(srch, 0.5 * u + relevance, u) + 1.5 * boost
    text = np.where(b.knows[req], 2.0 * in_leaf, 0.0) + 0.7 * in_mid + 1.2 * brand + 0.5 * color
    score = (
        0.5 * np.log(cat.popularity[item])
        + rng.gumbel(0, 1, len(req))
        + logged[req] * 0.5 * (u + rng.normal(0, 1, len(req)))
        + srch * text
        + boost
    )

    order = np.lexsort((-score, req))
    req, item, u_ctx = req[order], item[order], u_ctx[order]
    rank = np.arange(len(req)) - np.searchsorted(req, np.arange(n))[req]
    keep = rank < page[req]
    req, item, u_ctx, pos = req[keep], item[keep], u_ctx[keep], rank[keep]

    m = len(req)
    u_ctx = u_ctx + rng.normal(0, 0.5, m)
    stock = cat.availability[item] == 0
    p_click = (1.0 + pos) ** -EXAM_DECAY * _sigmoid(u_ctx - CLICK_BIAS) * np.where(stock, 1, 0.6)
    click = rng.random(m) < p_click
    cart = click & stock & (rng.random(m) < P_CART * _sigmoid(u_ctx - 1.5))
    buy = cart & (rng.random(m) < P_BUY * _sigmoid(u_ctx - 1.0))
    t_click = b.ts[req] + 3.0 + 1.5 * pos + rng.exponential(10.0, m)
    t_cart = t_click + 5.0 + rng.exponential(40.0, m)
    t_buy = t_cart + 20.0 + rng.exponential(120.0, m)
    masks, times = (click, cart, buy), (t_click, t_cart, t_buy)
    return Served(
        page_req=req,
        page_item=item,
        page_pos=pos,
        act_req=np.concatenate([req[x] for x in masks]),
        act_item=np.concatenate([item[x] for x in masks]),
        act_kind=np.concatenate(
            [np.full(int(x.sum()), k + 1, np.int8) for k, x in enumerate(masks)]
        ),
        act_ts=np.minimum(np.concatenate([t[x] for t, x in zip(times, masks, strict=True)]), w.end),
    )


def serve(
    rng: np.random.Generator,
    w: World,
    b: Batch,
    on_chunk: Callable[[int], object] | None = None,
) -> Served:
    """Serve and respond to every request of ``b``, in chunks of ``CHUNK`` requests."""
    parts: list[Served] = []
    for lo in range(0, len(b.ts), CHUNK):
        sl = slice(lo, lo + CHUNK)
        sub = Batch(
            b.ts[sl],
            b.user[sl],
            b.search[sl],
            b.qleaf[sl],
            b.qbrand[sl],
            b.qcolor[sl],
            b.knows[sl],
            b.boost[sl],
        )
        s = _serve_chunk(rng, w, sub)
        parts.append(
            Served(
                s.page_req + lo,
                s.page_item,
                s.page_pos,
                s.act_req + lo,
                s.act_item,
                s.act_kind,
                s.act_ts,
            )
        )
        if on_chunk is not None:
            on_chunk(len(sub.ts))
    if not parts:
        z, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return Served(z, z, z, z, z, np.zeros(0, np.int8), f)
    return Served(
        np.concatenate([p.page_req for p in parts]),
        np.concatenate([p.page_item for p in parts]),
        np.concatenate([p.page_pos for p in parts]),
        np.concatenate([p.act_req for p in parts]),
        np.concatenate([p.act_item for p in parts]),
        np.concatenate([p.act_kind for p in parts]),
        np.concatenate([p.act_ts for p in parts]),
    )
