"""A brand-new item nobody has touched reaches the first feed page of a shopper browsing its
category: no behaviour-based source can propose it, new_arrivals does (the exploration slots
that keep such items on the page are tested in tests/engine/rerank/test_exploration.py)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.contracts import FeedRequest
from tests.engine.fixtures import item
from tests.engine.world import BACKENDS, DECOR, close_engine, make_engine


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_new_item_gets_onto_the_first_feed_page(tmp_path: Path, backend: str) -> None:
    engine = await make_engine(tmp_path, backend=backend)
    try:
        created = datetime.now(UTC) - timedelta(hours=1)
        new = item(990, title="Hand-thrown stoneware vase", created=created)  # Home/Decor
        assert (await engine.upsert_items([new])).applied == ["i990"]
        resp = await engine.rank(
            FeedRequest(session_items=[DECOR[0].id], explain=True, page_size=10)
        )
        by_id = {r.id: r for r in resp.items}
        assert "i990" in by_id, [r.id for r in resp.items]
        explanation = by_id["i990"].explanation
        assert explanation is not None and "new_arrivals" in explanation.sources
    finally:
        await close_engine(engine)
