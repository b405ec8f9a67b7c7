"""Which logged requests a job replays: served pages when the log has them, else feed
requests from the interactions plus search requests from the logged queries."""

from __future__ import annotations

import numpy as np

from engine.core.contracts import Surface
from engine.offline.replay import logged_requests
from ltr.logs import LogReplay
from tests.ltr.test_logs import EVENTS, SEARCHES


def test_interaction_logs_give_feed_and_search_requests_with_distinct_ids() -> None:
    users = np.array(["u0", "u1", "u2"])
    replay = LogReplay(SEARCHES, np.array([1, 1, 1], np.int8), users, ["desk", "lamp"])
    reqs = logged_requests(replay, 0.0, 5000.0, max_requests=None, seed=0)
    assert [(r.surface, r.ts) for r in reqs] == [
        (Surface.search, 100.0),
        (Surface.feed, 103.0),  # session 0's second distinct item
        (Surface.search, 200.0),
    ]
    assert len({r.request for r in reqs}) == 3
    two = logged_requests(replay, 0.0, 5000.0, max_requests=2, seed=0)
    assert len(two) == 2 and [r.ts for r in two] == sorted(r.ts for r in two)
    only_feed = logged_requests(replay, 0.0, 5000.0, max_requests=None, seed=0, kind="next_item")
    assert sum(r.surface == Surface.search for r in only_feed) == 2  # searches either way


def test_served_pages_are_replayed_as_they_were_served() -> None:
    replay = LogReplay(EVENTS, np.array([2, 0], np.int8), np.array(["u0", "u1"]), ["a", "b"])
    reqs = logged_requests(replay, 0.0, 100.0, max_requests=None, seed=0)
    assert [r.request for r in reqs] == [6, 7, 8] and all(r.impressed for r in reqs)
