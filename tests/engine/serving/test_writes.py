"""The engine's ingest sink on each backend: log order and versions decide, bad records become
dead letters with the reason, and a restart re-indexes what the checkpoint did not cover."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.serving.service import Engine
from engine.serving.writes import replay_catalog
from ingest.deadletter import DeadLetters
from ingest.log import delete_body, upsert_body
from tests.engine.fixtures import item
from tests.engine.world import BACKENDS, close_engine, make_engine


@pytest.fixture(params=BACKENDS)
async def engine(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    e = await make_engine(tmp_path, backend=request.param)
    yield e
    await close_engine(e)


def _up(i: int, version: int, title: str) -> dict:
    return upsert_body(item(i, title=title, version=version).model_dump(mode="json"))


async def _titles(engine: Engine, query: str) -> list[str]:
    hits = await engine.index.lexical(query, 10)
    return [engine.catalog.titles[engine.catalog.row_of[i]] for i in hits.ids]


async def test_versions_decide_whatever_the_arrival_order(engine: Engine) -> None:
    worker = engine.writes.worker
    offsets = await worker.accept(
        [
            _up(950, 2, "walnut tray second"),
            _up(950, 1, "walnut tray first"),  # older, arrives later: stale
            _up(951, 1, "walnut bowl"),
            delete_body("i951", 1),
            _up(951, 2, "walnut bowl again"),  # newer than the delete: back
            _up(952, 1, "walnut spoon"),
            delete_body("i952", 1),
        ]
    )
    assert await worker.until(offsets[-1])
    status = {o: out.status for o, out in worker.outcomes(offsets).items()}
    assert [status[o] for o in offsets] == ["applied", "stale"] + ["applied"] * 5
    assert await engine.index.versions(["i950", "i951", "i952"]) == {"i950": 2, "i951": 2}
    assert sorted(await _titles(engine, "walnut")) == ["walnut bowl again", "walnut tray second"]


async def test_invalid_records_become_dead_letters(engine: Engine) -> None:
    bad_item = item(953).model_dump(mode="json") | {"price": -3}
    offsets = await engine.writes.worker.accept(
        [upsert_body(bad_item), {"op": "rename", "id": "i1"}, {"op": "delete", "id": "i2"}]
    )
    rep = await engine.writes.upsert([item(954, title="cedar box")])
    assert rep.applied == ["i954"]
    outcomes = engine.writes.worker.outcomes(offsets)
    assert {o.status for o in outcomes.values()} == {"dead_letter"}
    letters = DeadLetters(engine.settings.ingest_path).read()
    assert [ln["source"] for ln in letters] == [f"log offset {o}" for o in offsets]
    assert "price" in letters[0]["reason"] and "rename" in letters[1]["reason"]
    assert "version" in letters[2]["reason"]
    assert letters[0]["record"]["item"]["price"] == -3  # kept whole
    assert "i953" not in engine.catalog.row_of


async def test_restart_reindexes_after_the_checkpoint(engine: Engine, tmp_path: Path) -> None:
    """Changes accepted but not behind the checkpoint (a crash before the index persisted
    them) are in the catalog at start, by log replay, and written to the index again."""
    offsets = await engine.writes.worker.accept(
        [_up(960, 1, "linen apron"), _up(961, 3, "linen cap")]
    )
    assert engine.writes.ingest_log.checkpoint <= offsets[0]  # none of it behind the checkpoint
    # a second engine on the same data directory and index, as a restarted process opens it
    fresh = await make_engine(tmp_path, index=engine.index)
    assert fresh.writes.worker.lag >= 2
    assert replay_catalog(fresh.catalog, fresh.writes.ingest_log) == 2
    assert await fresh.writes.worker.drain() == 0  # the index is not closed here: the fixture does
    assert await fresh.index.versions(["i960", "i961"]) == {"i960": 1, "i961": 3}
    assert fresh.writes.ingest_log.checkpoint == fresh.writes.ingest_log.next_offset
    assert "linen cap" in await _titles(fresh, "linen")
