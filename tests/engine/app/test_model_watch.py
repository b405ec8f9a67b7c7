"""A newly published graph model is served without a restart; a broken one is not."""

from pathlib import Path

from engine.app.model_watch import refresh_graph
from engine.core.contracts import FeedRequest
from tests.engine.world import CASES, PHONES, close_engine, make_engine
from tests.graph.tiny import world_graph_model


async def test_published_graph_model_is_swapped_in(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path)  # started before any graph model existed
    try:
        assert engine.graph is None and not await refresh_graph(engine)
        serve = engine.settings.graph_dir / "serve"
        world_graph_model(engine.catalog, version="graph-v2").save(serve)
        assert await refresh_graph(engine)
        assert engine.versions["graph"] == "graph-v2" and engine.writes.writer.graph is engine.graph
        assert not await refresh_graph(engine)  # already served
        resp = await engine.rank(
            FeedRequest(session_items=[PHONES[1].id], explain=True, page_size=40)
        )
        assert resp.model_versions["graph"] == "graph-v2"
        proposed = {
            r.id
            for r in resp.items
            if r.explanation is not None and "bought_together" in r.explanation.sources
        }
        assert {c.id for c in CASES} <= proposed
        (serve / "meta.json").write_text("{ half written")  # a retrain mid-write
        assert not await refresh_graph(engine)
        assert engine.versions["graph"] == "graph-v2"
    finally:
        await close_engine(engine)
