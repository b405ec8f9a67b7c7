"""Served batches -> the event and request columns written to disk.

Requests are renumbered in time order (``request`` = row of ``requests.npz``) and sessions in
order of their first request. When the simulation overshoots ``n_events``, whole requests (with
their search event, impressions and responses) are dropped at random until it fits. Weak-history
users keep only their first three interactions (clicks, carts, purchases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synth.followups import Intent
from synth.simulate import Batch, Served

IMPRESSION, CLICK, CART, PURCHASE, SEARCH = 0, 1, 2, 3, 4
FEED, SEARCH_SURFACE = 0, 1
#: tie order for events at the same instant: the search, then its page top to bottom
_TIE = np.array([1, 2, 3, 4, 0], np.int8)
WEAK_MAX_INTERACTIONS = 3


@dataclass(frozen=True)
class Logs:
    events: dict[str, np.ndarray]
    requests: dict[str, np.ndarray]
    target: npt.NDArray[np.int32]  # per request: target item of a search, -1
    boost: npt.NDArray[np.int32]  # per request: boosted complementary leaf, -1


def _cat(parts: list[Intent], served: list[Served]) -> tuple[Intent, Served]:
    offsets = np.cumsum([0, *[len(p.batch.ts) for p in parts[:-1]]])
    b = [p.batch for p in parts]

    def c(xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs)

    batch = Batch(
        c([x.ts for x in b]),
        c([x.user for x in b]),
        c([x.search for x in b]),
        c([x.qleaf for x in b]),
        c([x.qbrand for x in b]),
        c([x.qcolor for x in b]),
        c([x.knows for x in b]),
        c([x.boost for x in b]),
    )
    intent = Intent(
        batch,
        c([p.session for p in parts]),
        c([p.query for p in parts]),
        c([p.target for p in parts]),
    )
    s = Served(
        c([x.page_req + o for x, o in zip(served, offsets, strict=True)]),
        c([x.page_item for x in served]),
        c([x.page_pos for x in served]),
        c([x.act_req + o for x, o in zip(served, offsets, strict=True)]),
        c([x.act_item for x in served]),
        c([x.act_kind for x in served]),
        c([x.act_ts for x in served]),
    )
    return intent, s


def _cap_weak(b: Batch, sv: Served, weak: npt.NDArray[np.bool_]) -> Served:
    """Keep only the first ``WEAK_MAX_INTERACTIONS`` interactions of each weak-history user."""
    user = b.user[sv.act_req]
    idx = np.flatnonzero(weak[user])
    idx = idx[np.lexsort((sv.act_ts[idx], user[idx]))]
    u = user[idx]
    rank = np.arange(len(idx)) - np.searchsorted(u, u, "left")
    keep = np.ones(len(user), bool)
    keep[idx[rank >= WEAK_MAX_INTERACTIONS]] = False
    return Served(
        sv.page_req,
        sv.page_item,
        sv.page_pos,
        sv.act_req[keep],
        sv.act_item[keep],
        sv.act_kind[keep],
        sv.act_ts[keep],
    )


def assemble(
    rng: np.random.Generator,
    parts: list[Intent],
    served: list[Served],
    n_events: int,
    weak: npt.NDArray[np.bool_],
) -> Logs:
    """``weak`` flags weak-history users, whose interactions are capped."""
    it, sv = _cat(parts, served)
    b = it.batch
    sv = _cap_weak(b, sv, weak)
    n = len(b.ts)
    count = np.bincount(sv.page_req, minlength=n) + np.bincount(sv.act_req, minlength=n) + b.search
    keep = np.ones(n, bool)
    if count.sum() > n_events:
        perm = rng.permutation(n)
        keep[perm[np.cumsum(count[perm]) > n_events]] = False
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(b.ts[kept], kind="stable")]
    new_id = np.full(n, -1, np.int64)
    new_id[kept] = np.arange(len(kept))
    sess = it.session[kept]
    uniq, first = np.unique(sess, return_index=True)
    sess_rank = np.empty(len(uniq), np.int64)
    sess_rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    sess_new = sess_rank[np.searchsorted(uniq, sess)]
    session_of = np.full(n, -1, np.int64)
    session_of[kept] = sess_new

    srch = kept[b.search[kept]]
    pg = keep[sv.page_req]
    ac = keep[sv.act_req]
    req = np.concatenate([srch, sv.page_req[pg], sv.act_req[ac]])
    kind = np.concatenate(
        [np.full(len(srch), SEARCH, np.int8), np.zeros(int(pg.sum()), np.int8), sv.act_kind[ac]]
    )
    ts = np.concatenate([b.ts[srch], b.ts[sv.page_req[pg]], sv.act_ts[ac]])
    item = np.concatenate([np.full(len(srch), -1, np.int64), sv.page_item[pg], sv.act_item[ac]])
    pos = np.concatenate(
        [np.full(len(srch), -1, np.int64), sv.page_pos[pg], np.full(int(ac.sum()), -1, np.int64)]
    )
    order = np.lexsort((pos, _TIE[kind], ts))
    req = req[order]
    events: dict[str, np.ndarray] = {
        "ts": ts[order],
        "user": b.user[req].astype(np.int32),
        "session": session_of[req],
        "request": new_id[req],
        "kind": kind[order],
        "item": item[order].astype(np.int32),
        "position": pos[order].astype(np.int16),
        "query": it.query[req].astype(np.int32),
        "surface": b.search[req].astype(np.int8),
    }
    requests: dict[str, np.ndarray] = {
        "request": np.arange(len(kept), dtype=np.int64),
        "ts": b.ts[kept],
        "user": b.user[kept].astype(np.int32),
        "session": sess_new,
        "surface": b.search[kept].astype(np.int8),
        "query": it.query[kept].astype(np.int32),
    }
    return Logs(events, requests, it.target[kept].astype(np.int32), b.boost[kept].astype(np.int32))
