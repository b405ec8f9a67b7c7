from dataclasses import replace
from datetime import timedelta

import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import Ranked
from engine.serving.rerank.exploration import ExplorationSlots
from tests.engine.fixtures import T0, catalog, item

NOW = (T0 + timedelta(days=30)).timestamp()
NEW = {25, 31, 40}  # rows created an hour before the request; the rest a month earlier


def _world(n: int = 50) -> tuple[ExplorationSlots, CandidatePool, Ranked]:
    cat = catalog(
        [item(i, created=T0 + timedelta(days=30, hours=-1) if i in NEW else T0) for i in range(n)]
    )
    rows = np.arange(n, dtype=np.int64)
    pool = CandidatePool.merge([SourceResult("s", rows, np.ones(n, np.float32))], ("s",), 1000)
    ranked = Ranked(rows.copy(), np.linspace(1, 0, n).astype(np.float32), {})
    return ExplorationSlots(cat, (4, 11)), pool, ranked


CTX = RequestContext("r", Surface.feed, NOW)


def test_best_ranked_buried_new_items_take_the_slots() -> None:
    slots, pool, ranked = _world()
    out = slots.rerank(CTX, pool, ranked)
    order = out.order.tolist()
    assert order[4] == 25 and order[11] == 31  # the two best-ranked new items below the page
    assert sorted(order) == list(range(50))  # nothing dropped
    assert order[:4] == [0, 1, 2, 3] and order[5:11] == [4, 5, 6, 7, 8, 9]  # moved one down
    assert out.notes[25] == ["exploration: new item moved from position 26 to 5"]


def test_only_the_first_feed_page() -> None:
    slots, pool, ranked = _world()
    for ctx in (replace(CTX, surface=Surface.search), replace(CTX, page=1)):
        assert slots.rerank(ctx, pool, ranked) is ranked


def test_no_move_when_the_ranker_already_shows_new_items() -> None:
    slots, pool, ranked = _world()
    order = ranked.order.copy()
    order[[2, 25]] = order[[25, 2]]
    order[[7, 31]] = order[[31, 7]]  # two new items on the first page already
    shown = Ranked(order, ranked.scores, {})
    assert slots.rerank(CTX, pool, shown) is shown


def test_old_items_are_not_explored() -> None:
    slots, pool, ranked = _world()
    slots.window_s = 600.0  # "new" now means under 10 minutes: none is
    assert slots.rerank(CTX, pool, ranked) is ranked


def test_search_slot_goes_to_a_new_item_with_every_query_word() -> None:
    titles = {25: "Quokka desk lamp", 31: "Quokka lamps brass", 40: "Brass lamp"}
    cat = catalog(
        [
            item(
                i,
                title=titles.get(i, f"lamp {i}"),
                created=T0 + timedelta(days=30, hours=-1) if i in NEW else T0,
            )
            for i in range(50)
        ]
    )
    rows = np.arange(50, dtype=np.int64)
    pool = CandidatePool.merge([SourceResult("s", rows, np.ones(50, np.float32))], ("s",), 1000)
    ranked = Ranked(rows.copy(), np.linspace(1, 0, 50).astype(np.float32), {})
    slots = ExplorationSlots(cat, (4, 11), search_positions=(2,))
    search = replace(CTX, surface=Surface.search, query="quokka lamp")
    out = slots.rerank(search, pool, ranked).order.tolist()
    # 25 and 31 carry both words ("lamps" is "lamp" stemmed), 40 does not; the better-ranked wins
    assert out[2] == 25 and out[:2] == [0, 1] and out[3] == 2 and sorted(out) == list(range(50))
    assert slots.rerank(replace(search, query="brass quokka lamp"), pool, ranked).order[2] == 31
    assert slots.rerank(replace(search, query="unicorn"), pool, ranked) is ranked
