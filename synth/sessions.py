"""Sessions and the requests in them: who asks for a page, when, and on which surface.

Anonymous users (one pseudo-user per visit) have a single session of ``1 + Poisson(1.5)``
requests; weak-history users a single short session (``1 + Poisson(0.3)``); heavy users at
least two sessions plus a share of the remaining budget proportional to a log-normal activity.
Session starts follow a diurnal curve; requests in a session are ``15 s + Exp(75 s)`` apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F64, I64
from synth.users import ANONYMOUS, HEAVY, WEAK, Users

DAY = 86_400.0
P_SEARCH = 0.38
REQUESTS_PER_HEAVY_SESSION = 4.0
#: relative traffic per hour of day (UTC), peaking in the evening
HOURLY = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 6, 6, 6, 7, 8, 9, 10, 9, 6, 4], float)


@dataclass(frozen=True)
class Planned:
    """Requests sorted by time."""

    ts: F64
    user: I64
    session: I64
    search: npt.NDArray[np.bool_]


def session_starts(rng: np.random.Generator, n: int, start: float, end: float) -> F64:
    days = max(1, int((end - start) // DAY))
    hour = rng.choice(24, n, p=HOURLY / HOURLY.sum())
    ts = start + rng.integers(0, days, n) * DAY + (hour + rng.random(n)) * 3600.0
    out: F64 = np.minimum(ts, end - 3 * 3600.0)
    return out


def plan_requests(
    rng: np.random.Generator, users: Users, n_requests: int, start: float, end: float
) -> Planned:
    seg = users.segment
    anon = np.flatnonzero(seg == ANONYMOUS)
    weak = np.flatnonzero(seg == WEAK)
    heavy = np.flatnonzero(seg == HEAVY)
    n_anon_req = 1 + rng.poisson(1.5, len(anon))
    n_weak_req = 1 + rng.poisson(0.3, len(weak))
    budget = max(n_requests - int(n_anon_req.sum()) - int(n_weak_req.sum()), 0)
    n_heavy_sessions = max(int(budget / REQUESTS_PER_HEAVY_SESSION), 2 * len(heavy))
    extra = n_heavy_sessions - 2 * len(heavy)
    act = users.activity[heavy]
    per_heavy = 2 + rng.multinomial(extra, act / act.sum()) if len(heavy) else np.zeros(0, int)
    heavy_sessions = np.repeat(heavy, per_heavy)
    n_heavy_req = 1 + rng.poisson(REQUESTS_PER_HEAVY_SESSION - 1, len(heavy_sessions))

    sess_user = np.concatenate([anon, weak, heavy_sessions]).astype(np.int64)
    sess_len = np.concatenate([n_anon_req, n_weak_req, n_heavy_req]).astype(np.int64)
    sess_start = session_starts(rng, len(sess_user), start, end)
    order = np.argsort(sess_start, kind="stable")
    sess_user, sess_len, sess_start = sess_user[order], sess_len[order], sess_start[order]

    session = np.repeat(np.arange(len(sess_user), dtype=np.int64), sess_len)
    gaps = 15.0 + rng.exponential(75.0, len(session))
    first = np.concatenate([[0], np.cumsum(sess_len)[:-1]])
    gaps[first] = 0.0
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], sess_len)
    ts = np.minimum(sess_start[session] + offset, end - 3600.0)
    order = np.argsort(ts, kind="stable")
    return Planned(
        ts=ts[order],
        user=sess_user[session][order],
        session=session[order],
        search=(rng.random(len(ts)) < P_SEARCH)[order],
    )
