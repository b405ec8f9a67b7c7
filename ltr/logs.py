"""Logged requests from event logs, turned into the same RequestContext that serving builds.

Event logs are columns (see :mod:`synth.dataset`): ``ts``, ``user``, ``session``,
``request``, ``kind`` (0 impression, 1 click, 2 cart, 3 purchase, 4 search), ``item``,
``position``, ``query``, ``surface``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import I64
from engine.core.contracts import Surface
from engine.core.pipeline.context import QUERY_LIMIT, History, RequestContext
from engine.core.search import SearchFilter

#: Graded labels: purchase > cart > click > skip.
GRADE = np.array([0, 1, 2, 3, 0], np.int8)
#: How long after a search an interaction on the search surface still answers it (without a
#: later search in the session)
SEARCH_WINDOW_S = 1800.0


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    request: int
    ts: float
    user: int
    session: int
    surface: Surface
    query: str
    rows: I64  # impressed item rows (replayed from interactions: the positives only)
    grades: npt.NDArray[np.int8]  # best grade per impressed row
    #: ``rows`` were a served page's items (candidates at the time); False for requests
    #: replayed from interactions, whose candidates are only what the pipeline retrieves
    impressed: bool = True


class _Timeline:
    """Interactions (click, cart, purchase) grouped by a key, in time order."""

    def __init__(
        self, key: I64, ts: npt.NDArray[np.float64], item: I64, kind: npt.NDArray[np.int8]
    ) -> None:
        order = np.lexsort((ts, key))
        self.key, self.ts, self.item, self.kind = key[order], ts[order], item[order], kind[order]

    def before(self, key: int, ts: float, limit: int) -> History:
        lo = np.searchsorted(self.key, key, "left")
        hi = np.searchsorted(self.key, key, "right")
        end = lo + np.searchsorted(self.ts[lo:hi], ts, "left")
        start = max(lo, end - limit)
        return History(
            self.item[start:end].astype(np.int64), self.kind[start:end], self.ts[start:end]
        )


def sample_in_time_order(
    reqs: list[LoggedRequest], max_requests: int | None, seed: int
) -> list[LoggedRequest]:
    """At most ``max_requests`` of ``reqs`` drawn uniformly with ``seed``, in time order."""
    if max_requests is not None and len(reqs) > max_requests:
        keep = np.sort(np.random.default_rng(seed).choice(len(reqs), max_requests, False))
        reqs = [reqs[i] for i in keep]
    return sorted(reqs, key=lambda r: r.ts)


class LogReplay:
    """Rebuilds, for any logged request, what serving would have known at that moment."""

    def __init__(
        self,
        events: dict[str, np.ndarray],
        segments: npt.NDArray[np.int8],
        user_ids: np.ndarray,
        queries: list[str],
    ) -> None:
        ev = events
        act = (ev["kind"] >= 1) & (ev["kind"] <= 3)
        ts, item, kind = ev["ts"][act], ev["item"][act].astype(np.int64), ev["kind"][act]
        self.by_user = _Timeline(ev["user"][act].astype(np.int64), ts, item, kind)
        self.by_session = _Timeline(ev["session"][act].astype(np.int64), ts, item, kind)
        srch = (ev["kind"] == 4) & (ev["query"] >= 0)
        q = ev["query"][srch].astype(np.int64)
        self.searches = _Timeline(  # the query id in the item column
            ev["session"][srch].astype(np.int64), ev["ts"][srch], q, np.zeros(len(q), np.int8)
        )
        self.events = ev
        self.segments = segments
        self.user_ids = user_ids
        self.queries = queries

    def requests(
        self,
        t0: float,
        t1: float,
        *,
        max_requests: int | None = None,
        positives_only: bool = True,
        seed: int = 0,
    ) -> list[LoggedRequest]:
        ev = self.events
        imp = (ev["kind"] == 0) & (ev["ts"] >= t0) & (ev["ts"] < t1) & (ev["request"] >= 0)
        req_ids = np.unique(ev["request"][imp])
        resp = (ev["kind"] >= 1) & (ev["kind"] <= 3) & (ev["request"] >= 0)
        if positives_only:
            req_ids = np.intersect1d(req_ids, ev["request"][resp])
        if max_requests is not None and len(req_ids) > max_requests:
            rng = np.random.default_rng(seed)
            req_ids = np.sort(rng.choice(req_ids, max_requests, replace=False))
        return list(self._build(req_ids, imp, resp))

    @property
    def has_impressions(self) -> bool:
        """Whether the log holds served pages (impressions with a request id)."""
        ev = self.events
        return bool(np.any((ev["kind"] == 0) & (ev["request"] >= 0)))

    def interaction_requests(
        self, t0: float, t1: float, *, max_requests: int | None = None, seed: int = 0
    ) -> list[LoggedRequest]:
        """Requests replayed from interactions, for logs without served pages: one feed
        request per session that acts on at least two distinct items within ``[t0, t1)``, at
        the time of its second distinct item. The context is what the engine would know then:
        the session so far (its first item) and, for a known user, the history before; the
        positives are the distinct items the session acts on from then on, graded by their
        best kind. The ``rows`` are these positives only: candidates come from the pipeline."""
        ev = self.events
        act = np.flatnonzero(
            (ev["kind"] >= 1) & (ev["kind"] <= 3) & (ev["ts"] >= t0) & (ev["ts"] < t1)
        )
        order = act[np.lexsort((ev["ts"][act], ev["session"][act]))]
        sessions = ev["session"][order]
        bounds = np.flatnonzero(np.diff(sessions)) + 1
        out: list[LoggedRequest] = []
        for part in np.split(order, bounds):
            items = ev["item"][part].astype(np.int64)
            _, first = np.unique(items, return_index=True)
            if len(first) < 2:
                continue
            at = int(np.sort(first)[1])  # the first event on the second distinct item
            later, grades = items[at:], GRADE[ev["kind"][part][at:]]
            rows = np.unique(later[later != items[0]])
            best = np.array([grades[later == r].max() for r in rows], np.int8)
            j = int(part[at])
            out.append(
                LoggedRequest(
                    request=len(out),
                    ts=float(ev["ts"][j]),
                    user=int(ev["user"][j]),
                    session=int(ev["session"][j]),
                    surface=Surface.feed,
                    query="",
                    rows=rows,
                    grades=best,
                    impressed=False,
                )
            )
        return sample_in_time_order(out, max_requests, seed)

    def next_item_requests(
        self,
        t0: float,
        t1: float,
        *,
        max_requests: int | None = None,
        seed: int = 0,
        every: bool = False,
    ) -> list[LoggedRequest]:
        """Next-interaction requests, for logs of sequences rather than baskets: one feed
        request per visitor (a known user, else an anonymous session) at their first
        interaction within ``[t0, t1)``; the context is everything before it, the positive is
        the item of that interaction, graded by its kind. With ``every``, one such request at
        each interaction of ``[t0, t1)``: every prefix of each sequence asks for its next item
        (the training examples of a next-item model)."""
        ev = self.events
        act = np.flatnonzero(
            (ev["kind"] >= 1) & (ev["kind"] <= 3) & (ev["ts"] >= t0) & (ev["ts"] < t1)
        )
        anonymous = self.segments[ev["user"][act]] == 0
        visitor = np.where(anonymous, -1 - ev["session"][act].astype(np.int64), ev["user"][act])
        order = np.lexsort((act, ev["ts"][act], visitor))  # time order within a visitor
        if every:
            picked = act[order]
        else:
            _, first = np.unique(visitor[order], return_index=True)
            picked = act[order[first]]
        out = [
            LoggedRequest(
                request=n,
                ts=float(ev["ts"][j]),
                user=int(ev["user"][j]),
                session=int(ev["session"][j]),
                surface=Surface.feed,
                query="",
                rows=np.array([ev["item"][j]], np.int64),
                grades=np.array([GRADE[ev["kind"][j]]], np.int8),
                impressed=False,
            )
            for n, j in enumerate(picked)
        ]
        return sample_in_time_order(out, max_requests, seed)

    def search_requests(
        self,
        t0: float,
        t1: float,
        *,
        max_requests: int | None = None,
        seed: int = 0,
        first_id: int = 0,
        window_s: float = SEARCH_WINDOW_S,
    ) -> list[LoggedRequest]:
        """Search requests replayed from a log with queries but no served pages: one per
        search within ``[t0, t1)`` that its session follows with an interaction on the search
        surface before its next search (and within ``window_s``); the positives are those
        items, graded by their best kind. Ids count from ``first_id``."""
        ev = self.events
        srch = np.flatnonzero(
            (ev["kind"] == 4) & (ev["query"] >= 0) & (ev["ts"] >= t0) & (ev["ts"] < t1)
        )
        acted = (ev["kind"] >= 1) & (ev["kind"] <= 3) & (ev["surface"] == 1)
        by_session = _Timeline(
            ev["session"][acted].astype(np.int64),
            ev["ts"][acted],
            ev["item"][acted].astype(np.int64),
            ev["kind"][acted],
        )
        out: list[LoggedRequest] = []
        for j in srch.tolist():
            session, ts = int(ev["session"][j]), float(ev["ts"][j])
            later = self.searches.before(session, np.nextafter(ts + window_s, np.inf), 10_000)
            nxt = later.ts[later.ts > ts]
            until = float(nxt.min()) if len(nxt) else ts + window_s
            lo = np.searchsorted(by_session.key, session, "left")
            hi = np.searchsorted(by_session.key, session, "right")
            span = slice(
                lo + np.searchsorted(by_session.ts[lo:hi], ts, "left"),
                lo + np.searchsorted(by_session.ts[lo:hi], until, "left"),
            )
            items, kinds = by_session.item[span], by_session.kind[span]
            if len(items) == 0:
                continue
            rows = np.unique(items)
            best = np.array([GRADE[kinds[items == r]].max() for r in rows], np.int8)
            out.append(
                LoggedRequest(
                    request=first_id + len(out),
                    ts=ts,
                    user=int(ev["user"][j]),
                    session=session,
                    surface=Surface.search,
                    query=self.queries[int(ev["query"][j])],
                    rows=rows,
                    grades=best,
                    impressed=False,
                )
            )
        return sample_in_time_order(out, max_requests, seed)

    def _build(
        self, req_ids: I64, imp: npt.NDArray[np.bool_], resp: npt.NDArray[np.bool_]
    ) -> Iterator[LoggedRequest]:
        ev = self.events
        sel = imp & np.isin(ev["request"], req_ids)
        r_req, r_item = ev["request"][sel], ev["item"][sel].astype(np.int64)
        order = np.argsort(r_req, kind="stable")
        r_req, r_item = r_req[order], r_item[order]
        first = np.flatnonzero(sel)[order]
        rsel = resp & np.isin(ev["request"], req_ids)
        pos = {(int(r), int(i)): 0 for r, i in zip(r_req, r_item, strict=True)}
        for r, i, k in zip(ev["request"][rsel], ev["item"][rsel], ev["kind"][rsel], strict=True):
            key = (int(r), int(i))
            if key in pos:
                pos[key] = max(pos[key], int(GRADE[k]))
        bounds = np.flatnonzero(np.diff(r_req)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(r_req)]])
        for s, e in zip(starts, ends, strict=True):
            j = first[s]
            rid = int(r_req[s])
            rows = r_item[s:e]
            rows = np.unique(rows)
            grades = np.array([pos[(rid, int(x))] for x in rows], np.int8)
            q = int(ev["query"][j])
            yield LoggedRequest(
                request=rid,
                ts=float(ev["ts"][j]),
                user=int(ev["user"][j]),
                session=int(ev["session"][j]),
                surface=Surface.search if int(ev["surface"][j]) == 1 else Surface.feed,
                query=self.queries[q] if q >= 0 else "",
                rows=rows,
                grades=grades,
            )

    def context(
        self,
        lr: LoggedRequest,
        history_limit: int = 50,
        session_limit: int = 30,
        query_limit: int = QUERY_LIMIT,
    ) -> RequestContext:
        anonymous = int(self.segments[lr.user]) == 0
        user_hist = (
            History.empty() if anonymous else self.by_user.before(lr.user, lr.ts, history_limit)
        )
        session = self.by_session.before(lr.session, lr.ts, session_limit)
        searched: tuple[str, ...] = ()
        if lr.surface == Surface.feed:
            found = self.searches.before(lr.session, lr.ts, query_limit).rows
            searched = tuple(self.queries[int(i)] for i in found)
        return RequestContext(
            request_id=f"log-{lr.request}",
            surface=lr.surface,
            now=lr.ts,
            query=lr.query,
            user_id=None if anonymous else str(self.user_ids[lr.user]),
            session_id=f"s{lr.session}",
            user_history=user_hist,
            session=session,
            session_queries=searched,
            filters=SearchFilter(in_stock=None),
        )
