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


# interaction logs (no served pages): a known user's earlier basket (session 0), then a
# basket of three items (session 1: item 5 first, then 6 and 7, 7 also carted later), an
# anonymous basket of one item (session 2: no request), and an anonymous basket of two
# (session 3).
BASKETS = {
    "ts": np.array([1.0, 1.001, 50.0, 50.001, 50.002, 50.5, 60.0, 70.0, 70.001]),
    "user": np.array([0, 0, 0, 0, 0, 0, 1, 2, 2]),
    "session": np.array([0, 0, 1, 1, 1, 1, 2, 3, 3]),
    "request": np.full(9, -1),
    "kind": np.array([3, 3, 3, 3, 3, 2, 3, 3, 3], np.int8),
    "item": np.array([1, 2, 5, 6, 7, 7, 9, 4, 8]),
    "position": np.full(9, -1),
    "query": np.full(9, -1),
    "surface": np.zeros(9, np.int8),
}


def test_interaction_logs_replay_one_request_per_basket_after_its_first_item() -> None:
    replay = LogReplay(BASKETS, np.array([1, 0, 0], np.int8), np.array(["u0", "~s2", "~s3"]), [])
    assert not replay.has_impressions and replay.has_impressions is not None
    reqs = replay.interaction_requests(40.0, 100.0)
    assert [(r.session, r.ts) for r in reqs] == [(1, 50.001), (3, 70.001)]
    first = reqs[0]
    assert first.rows.tolist() == [6, 7] and first.grades.tolist() == [3, 3]
    ctx = replay.context(first)
    assert ctx.session.rows.tolist() == [5]  # the basket so far
    assert sorted(ctx.user_history.rows.tolist()) == [1, 2, 5]  # and the earlier basket
    anon = replay.context(reqs[1])
    assert anon.user_id is None and anon.session.rows.tolist() == [4]
    assert anon.user_history.rows.tolist() == []
    assert replay.interaction_requests(0.0, 100.0, max_requests=1, seed=0)[0].session in (0, 1, 3)
    assert LogReplay(EVENTS, np.array([2, 0], np.int8), np.array(["u0", "u1"]), []).has_impressions


def test_sequence_logs_replay_each_visitors_next_interaction() -> None:
    replay = LogReplay(BASKETS, np.array([1, 0, 0], np.int8), np.array(["u0", "~s2", "~s3"]), [])
    reqs = replay.next_item_requests(50.0015, 100.0)
    # user 0 next acts on item 7 (its purchase at 50.002, not the later cart); the anonymous
    # sessions 2 and 3 each on their first item in the window
    assert [(r.user, r.ts, r.rows.tolist(), r.grades.tolist()) for r in reqs] == [
        (0, 50.002, [7], [3]),
        (1, 60.0, [9], [3]),
        (2, 70.0, [4], [3]),
    ]
    ctx = replay.context(reqs[0])
    assert ctx.user_history.rows.tolist() == [1, 2, 5, 6]  # everything before, in order
    assert replay.context(reqs[2]).user_history.rows.tolist() == []
    assert len(replay.next_item_requests(0.0, 100.0, max_requests=2, seed=0)) == 2
    assert replay.next_item_requests(100.0, 200.0) == []


# a log with queries but no served pages: session 0 searches "desk" (query 0), views item 3
# and buys it from the results, searches "lamp" (query 1) and views item 5; session 1
# searches "desk" and leaves; session 2 searches "lamp" and, an hour later, views item 5
# from the results (too late to answer that search); a feed view in session 0 (surface 0)
# answers no search.
SEARCHES = {
    "ts": np.array([100.0, 101.0, 102.0, 103.0, 200.0, 201.0, 202.0, 300.0, 400.0, 4000.0]),
    "user": np.array([0, 0, 0, 0, 0, 0, 0, 1, 2, 2]),
    "session": np.array([0, 0, 0, 0, 0, 0, 0, 1, 2, 2]),
    "request": np.full(10, -1),
    "kind": np.array([4, 1, 3, 1, 4, 1, 1, 4, 4, 1], np.int8),
    "item": np.array([-1, 3, 3, 9, -1, 5, 6, -1, -1, 5]),
    "position": np.full(10, -1),
    "query": np.array([0, -1, -1, -1, 1, -1, -1, 0, 1, -1]),
    "surface": np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1], np.int8),
}


def test_logged_queries_replay_as_search_requests_answered_by_what_followed() -> None:
    users = np.array(["u0", "u1", "u2"])
    replay = LogReplay(SEARCHES, np.array([1, 1, 1], np.int8), users, ["desk", "lamp"])
    reqs = replay.search_requests(0.0, 5000.0, first_id=10)
    got = [(r.request, r.ts, r.query, r.rows.tolist(), r.grades.tolist()) for r in reqs]
    assert got == [
        (10, 100.0, "desk", [3], [3]),  # the purchase grades item 3; item 9 was a feed view
        (11, 200.0, "lamp", [5, 6], [1, 1]),
    ]
    assert all(r.surface == Surface.search and not r.impressed for r in reqs)
    ctx = replay.context(reqs[1])
    assert ctx.query == "lamp" and ctx.session.rows.tolist() == [3, 3, 9]  # what came before
    later = replay.search_requests(150.0, 5000.0)
    assert [(r.ts, r.rows.tolist()) for r in later] == [(200.0, [5, 6])]
    assert len(replay.search_requests(0.0, 5000.0, max_requests=1)) == 1


def test_sequence_logs_replay_every_prefix_when_asked() -> None:
    replay = LogReplay(BASKETS, np.array([1, 0, 0], np.int8), np.array(["u0", "~s2", "~s3"]), [])
    reqs = replay.next_item_requests(50.0015, 100.0, every=True)
    # one request at each interaction of the window, not only each visitor's first
    got = sorted((r.user, r.ts, r.rows.tolist()) for r in reqs)
    assert got == [
        (0, 50.002, [7]),
        (0, 50.5, [7]),
        (1, 60.0, [9]),
        (2, 70.0, [4]),
        (2, 70.001, [8]),
    ]
    later = next(r for r in reqs if r.ts == 50.5)
    assert replay.context(later).user_history.rows.tolist() == [1, 2, 5, 6, 7]
    assert len(replay.next_item_requests(0.0, 100.0, max_requests=3, seed=0, every=True)) == 3
