from datetime import timedelta

import numpy as np

from engine.contracts import Surface
from engine.pipeline.context import History, RequestContext
from engine.sources.new_arrivals import NewArrivalsSource
from tests.engine.fixtures import T0, catalog, item

NOW = T0 + timedelta(days=10)


def _source() -> NewArrivalsSource:
    cat = catalog(
        [
            item(0, category=("Home", "Decor"), created=NOW - timedelta(hours=2)),
            item(1, category=("Electronics", "Phones"), created=NOW - timedelta(hours=1)),
            item(2, category=("Home", "Kitchen"), created=NOW - timedelta(days=5)),  # too old
            item(3, category=("Home", "Kitchen"), created=NOW + timedelta(hours=1)),  # not yet
            item(4, category=("Home", "Kitchen"), created=NOW - timedelta(minutes=5)),
            item(5, category=("Home", "Decor"), created=T0),
        ]
    )
    return NewArrivalsSource(cat, window_s=3 * 86400.0)


async def test_newest_first_across_the_catalog_without_context() -> None:
    res = await _source().fetch(RequestContext("r", Surface.feed, NOW.timestamp()), 10)
    assert res.rows.tolist() == [4, 1, 0]
    assert np.all(np.diff(res.scores) <= 0) and 0 < res.scores[-1] < res.scores[0] <= 1


async def test_context_keeps_its_root_categories_and_k() -> None:
    seen = History(np.array([5], np.int64), np.ones(1, np.int8), np.zeros(1))
    ctx = RequestContext("r", Surface.feed, NOW.timestamp(), session=seen)
    res = await _source().fetch(ctx, 10)
    assert res.rows.tolist() == [4, 0]  # Home only
    assert (await _source().fetch(ctx, 1)).rows.tolist() == [4]
