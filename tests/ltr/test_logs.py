import numpy as np

from engine.core.contracts import Surface
from ltr.logs import LogReplay

# session 0: a search for "oak desk" (query 1), a click on item 3, then a feed request;
# session 1: a feed request with no search before it; then a search request in session 0.
EVENTS = {
    "ts": np.array([10.0, 11.0, 12.0, 12.0, 13.0, 13.0, 20.0, 20.0, 21.0]),
    "user": np.array([0, 0, 0, 0, 1, 1, 0, 0, 0]),
    "session": np.array([0, 0, 0, 0, 1, 1, 0, 0, 0]),
    "request": np.array([-1, 5, 6, 6, 7, 7, 8, 8, 8]),
    "kind": np.array([4, 1, 0, 1, 0, 1, 4, 0, 1], np.int8),
    "item": np.array([-1, 3, 4, 4, 2, 2, -1, 1, 1]),
    "position": np.zeros(9, np.int64),
    "query": np.array([1, -1, -1, -1, -1, -1, 0, 0, -1]),
    "surface": np.array([1, 0, 0, 0, 0, 0, 1, 1, 1]),
}


def test_feed_contexts_carry_the_sessions_earlier_searches() -> None:
    replay = LogReplay(
        EVENTS, np.array([2, 0], np.int8), np.array(["u0", "u1"]), ["lamp", "oak desk"]
    )
    reqs = {r.request: r for r in replay.requests(0, 100)}
    assert set(reqs) == {6, 7, 8}
    feed = replay.context(reqs[6])
    assert feed.surface == Surface.feed and feed.session_queries == ("oak desk",)
    assert feed.session.rows.tolist() == [3]
    assert replay.context(reqs[7]).session_queries == ()  # no search in that session
    search = replay.context(reqs[8])
    assert search.surface == Surface.search and search.query == "lamp"
    assert search.session_queries == ()  # search requests carry their own query
