"""Requests that carry intent: searches from a target item, and complement follow-ups.

After a purchase in a leaf with a complement partner, the buyer comes back (``P_FOLLOW`` for
the anchor side, e.g. phone -> phone case; ``P_FOLLOW_REVERSE`` the other way) for one more
request where the partner leaf is boosted: the policy shows some of it and the user likes it
more (see :mod:`synth.simulate`). A share of follow-ups are searches for the partner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64
from synth.queries import QueryBook
from synth.simulate import Batch, Served, World
from synth.users import ANONYMOUS

P_FOLLOW, P_FOLLOW_REVERSE = 0.7, 0.15
P_FOLLOW_SEARCH = 0.35
P_KNOWS_TYPO = 0.5  # the policy still matches a misspelt query's leaf


@dataclass(frozen=True)
class Intent:
    """A batch of requests to serve plus what the logs and the ground truth need about them."""

    batch: Batch
    session: I64
    query: npt.NDArray[np.int32]  # -1 for feed
    target: I64  # target item of a search, -1 for feed


def _searches(
    rng: np.random.Generator,
    w: World,
    book: QueryBook,
    ts: F64,
    user: I64,
    session: I64,
    search: npt.NDArray[np.bool_],
    target_leaf: I64,
    boost: I64,
) -> Intent:
    n = len(ts)
    idx = np.flatnonzero(search)
    target = np.full(n, -1, np.int64)
    lf = target_leaf[idx]
    drawn = w.sampler.draw(rng, lf, lf + 1)
    target[idx] = w.sampler.fix_unborn(rng, drawn, ts[idx], w.cat.leaf)
    q = book.write(rng, w.tax, w.cat, target[idx])
    query = np.full(n, -1, np.int32)
    qbrand = np.full(n, -1, np.int32)
    qcolor = np.full(n, -1, np.int32)
    knows = np.zeros(n, bool)
    query[idx], qbrand[idx], qcolor[idx] = q.query, q.brand, q.color
    knows[idx] = ~q.typo | (rng.random(len(idx)) < P_KNOWS_TYPO)
    qleaf = np.where(search, w.cat.leaf[np.maximum(target, 0)], -1).astype(np.int64)
    batch = Batch(ts, user, search, qleaf, qbrand, qcolor, knows, boost)
    return Intent(batch, session, query, target)


def main_requests(
    rng: np.random.Generator,
    w: World,
    book: QueryBook,
    ts: F64,
    user: I64,
    session: I64,
    search: npt.NDArray[np.bool_],
) -> Intent:
    """Search targets: a favourite leaf (55%), a root by affinity (30%) or anything popular."""
    n = len(ts)
    tax, users = w.tax, w.users
    fav = users.draw_fav(rng, user)
    root = users.draw_root(rng, user)
    root_lo, root_hi = tax.root_range()
    u = rng.random(n)
    first = np.where(u < 0.55, fav, np.where(u < 0.85, root_lo[root], 0))
    last = np.where(u < 0.55, fav + 1, np.where(u < 0.85, root_hi[root], tax.n_leaves))
    leaf = w.cat.leaf[w.sampler.draw(rng, first.astype(np.int64), last.astype(np.int64))]
    return _searches(
        rng, w, book, ts, user, session, search, leaf.astype(np.int64), np.full(n, -1, np.int64)
    )


def follow_ups(
    rng: np.random.Generator,
    w: World,
    book: QueryBook,
    first: Intent,
    served: Served,
    next_session: int,
) -> Intent:
    buy = served.act_kind == 3
    item, req, t = served.act_item[buy], served.act_req[buy], served.act_ts[buy]
    leaf = w.cat.leaf[item]
    partner = w.tax.complement_of[leaf].astype(np.int64)
    p = np.where(
        partner < 0, 0.0, np.where(w.tax.complement_anchor[leaf], P_FOLLOW, P_FOLLOW_REVERSE)
    )
    go = rng.random(len(item)) < p
    user = first.batch.user[req]
    anon = w.users.segment[user] == ANONYMOUS
    delay = np.where(
        anon, 60.0 + rng.exponential(600.0, len(item)), 120.0 + rng.exponential(7200.0, len(item))
    )
    go &= t + delay < w.end - 600.0
    same = anon | (delay < 1800.0)
    new_ids = next_session + np.cumsum(go & ~same) - 1
    session = np.where(same, first.session[req], new_ids)[go]
    ts = (t + delay)[go]
    order = np.argsort(ts, kind="stable")
    partner = partner[go][order]
    search = rng.random(len(ts)) < P_FOLLOW_SEARCH
    return _searches(
        rng, w, book, ts[order], user[go][order], session[order], search, partner, partner
    )
