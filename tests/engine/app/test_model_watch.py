"""A newly published graph model or ranker is served without a restart; a broken one is not;
replicas sharing one model directory move to the version it publishes."""

from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np

from engine.app.model_watch import refresh_graph, refresh_ranker
from engine.core.contracts import FeedRequest, SearchRequest
from engine.serving.sources.registry import SOURCE_NAMES
from ltr.artifact import CURRENT, RankerArtifact, RankerMeta
from ltr.features import default_feature_names
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


def _publish_ranker(model_dir: Path, version: str) -> None:
    """A ranker over the served features (its scores mean nothing), published: CURRENT."""
    rng = np.random.default_rng(0)
    names = list(default_feature_names(SOURCE_NAMES))
    n = 400
    data = lgb.Dataset(rng.random((n, len(names))), rng.integers(0, 2, n), group=[20] * 20)
    booster = lgb.train({"objective": "lambdarank", "verbose": -1, "num_leaves": 7}, data, 5)
    meta = RankerMeta(
        version=version,
        created_at=datetime.now(UTC),
        feature_names=names,
        source_names=list(SOURCE_NAMES),
        train_window=(0.0, 1.0),
        n_requests=20,
        n_rows=n,
        params={},
        metrics={},
        lightgbm_version=lgb.__version__,
    )
    RankerArtifact(booster, meta).save(model_dir, publish=True)


async def test_two_replicas_adopt_the_ranker_published_in_their_shared_directory(
    tmp_path: Path,
) -> None:
    one = await make_engine(tmp_path / "one")
    two = await make_engine(tmp_path / "two")
    shared = one.settings.model_dir
    two.settings = two.settings.model_copy(update={"model_dir": shared})
    try:
        for version in ("ranker-a", "ranker-b"):
            _publish_ranker(shared, version)
            for engine in (one, two):
                assert await refresh_ranker(engine)
                assert not await refresh_ranker(engine)  # already ranking with it
                resp = await engine.rank(SearchRequest(query="phone"))
                assert resp.model_versions["ranker"] == version and resp.items
        # a pointer to a version not (yet) on disk: both keep ranking with the one they have
        (shared / "ranker" / CURRENT).write_text("ranker-missing")
        for engine in (one, two):
            assert not await refresh_ranker(engine)
            assert engine.spec.scorer.version == "ranker-b"
    finally:
        await close_engine(one)
        await close_engine(two)
