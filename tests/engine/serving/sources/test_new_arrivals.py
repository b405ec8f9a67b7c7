from datetime import timedelta

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.context import History, RequestContext
from engine.core.signals import Signals
from engine.serving.cold_start import ColdStart
from engine.serving.sources.new_arrivals import NewArrivalsSource
from engine.serving.state.embedded import EmbeddedStore
from tests.engine.fixtures import T0, catalog, item

NOW = T0 + timedelta(days=10)


async def _source() -> NewArrivalsSource:
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
    none = np.zeros(0)
    signals = Signals.build(
        none, none.astype(np.int32), none.astype(np.int8), cat.category.values, 0
    )
    cold = ColdStart(cat, signals, EmbeddedStore(), window_s=3 * 86400.0)
    await cold.admit(np.arange(len(cat)), NOW.timestamp() + 7200)  # item 3 too, by then
    return NewArrivalsSource(cold)


async def test_without_context_the_new_items_of_the_whole_catalog() -> None:
    src = await _source()
    res = await src.fetch(RequestContext("r", Surface.feed, NOW.timestamp()), 10)
    assert res.rows.tolist() == [4, 1, 0]  # equal priors (no behaviour): the youngest first
    assert np.all(np.diff(res.scores) < 0) and res.scores[-1] > 0


async def test_context_keeps_its_root_categories_and_k() -> None:
    src = await _source()
    seen = History(np.array([5], np.int64), np.ones(1, np.int8), np.zeros(1))
    ctx = RequestContext("r", Surface.feed, NOW.timestamp(), session=seen)
    assert (await src.fetch(ctx, 10)).rows.tolist() == [4, 0]  # Home only
    assert (await src.fetch(ctx, 1)).rows.tolist() == [4]
