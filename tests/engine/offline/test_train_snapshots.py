"""Ranker training reads each request's features from the signals snapshot serving would have
had: built at the feature time and rebuilt every refresh period, never after the request."""

import numpy as np

from engine.core.contracts import Surface
from engine.offline.train import by_snapshot, snapshot_time
from ltr.logs import LoggedRequest


def _req(ts: float) -> LoggedRequest:
    one = np.ones(1, np.int64)
    return LoggedRequest(0, ts, 0, 0, Surface.feed, "", one, one.astype(np.int8))


def test_each_request_reads_the_last_snapshot_before_it() -> None:
    assert snapshot_time(100.0, 100.0, 7.0) == 100.0
    assert snapshot_time(113.9, 100.0, 7.0) == 107.0
    assert snapshot_time(114.0, 100.0, 7.0) == 114.0
    assert snapshot_time(90.0, 100.0, 7.0) == 100.0  # training requests start at the first


def test_requests_are_grouped_by_snapshot_in_time_order() -> None:
    groups = by_snapshot([_req(t) for t in (100.5, 101.0, 108.0, 121.5)], 100.0, 7.0)
    assert [(at, [r.ts for r in g]) for at, g in groups] == [
        (100.0, [100.5, 101.0]),
        (107.0, [108.0]),
        (121.0, [121.5]),
    ]
