from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engine.core.signals import Signals
from engine.offline.cold_start_replay import ColdStartReplay
from engine.serving.cold_start import ColdStart
from engine.serving.state.embedded import EmbeddedStore
from tests.engine.fixtures import catalog, item

NOW = datetime(2026, 3, 1, tzinfo=UTC)
H = 3600.0


def _replay() -> tuple[ColdStart, ColdStartReplay]:
    cat = catalog(
        [
            item(0, created=NOW - timedelta(days=30)),
            item(1, created=NOW - timedelta(hours=5)),
            item(2, created=NOW - timedelta(hours=1)),
            item(3, created=NOW + timedelta(hours=1)),
        ]
    )
    t = NOW.timestamp()
    none = np.zeros(0)
    signals = Signals.build(
        none, none.astype(np.int32), none.astype(np.int8), cat.category.values, t
    )
    cold = ColdStart(cat, signals, EmbeddedStore(), window_s=3 * 86400.0)
    events = {  # impressions of 1 and 2, then a cart on 1, then one after the request time
        "ts": np.array([t - 0.5 * H, t - 0.5 * H, t - 0.2 * H, t + 0.5 * H, t - 0.1 * H]),
        "item": np.array([1, 2, 1, 1, 0]),
        "kind": np.array([0, 0, 2, 2, 1]),
        "session": np.array([7, 7, 7, 8, 9]),
    }
    return cold, ColdStartReplay(cold, events)


async def test_state_at_a_time_holds_only_what_happened_before_it() -> None:
    cold, replay = _replay()
    t = NOW.timestamp()
    await replay.advance(t)
    assert sorted(dict(await cold.store.top("new", 10, t))) == ["i1", "i2"]  # 3: not created yet
    assert await cold.store.counts(["i1", "i2", "i0"]) == ([1, 1, 0], [0, 0, 0])  # 0: not new
    rows, _ = await cold.top([], 10, t)
    assert rows.tolist() == [1, 2]  # the cart lifts the older item over the younger one
    await replay.advance(t + 2 * H)
    assert sorted(dict(await cold.store.top("new", 10, t + 2 * H))) == ["i1", "i2", "i3"]
    with pytest.raises(ValueError, match="back in time"):
        await replay.advance(t)
