"""The offline path end to end on a small synthetic marketplace, with quality thresholds."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.contracts import FeedRequest, SearchRequest
from engine.jobs import build_index, evaluate, open_engine, train
from engine.settings import Settings
from ingest.synth.generate import generate
from tests.servers import OPENSEARCH_URL, drop_opensearch_alias, needs_opensearch


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("opensearch", marks=needs_opensearch)],
)
def world(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """The same offline path and thresholds on each search backend."""
    root = tmp_path_factory.mktemp("world")
    settings = Settings(
        data_dir=root / "data",
        index_dir=root / "index",
        model_dir=root / "models",
        search_backend=request.param,
        opensearch_url=OPENSEARCH_URL or "http://127.0.0.1:9200",
        opensearch_alias=f"jobs-{uuid.uuid4().hex[:10]}",
    )
    generate(settings.data_dir, n_items=5000, n_events=100_000, seed=3, progress=False)
    yield settings
    if request.param == "opensearch":
        asyncio.run(drop_opensearch_alias(OPENSEARCH_URL, settings.opensearch_alias))


async def test_index_train_evaluate_and_serve(world: Settings) -> None:
    built = await build_index(world, progress=False)
    assert built["items"] == built["indexed"] == 5000
    assert built["backend"] == world.search_backend

    report = await train(world, max_requests=1500, progress=False)
    assert report["n_requests"] > 800
    assert report["metrics"]["valid_ndcg@10"] > report["metrics"]["valid_ndcg@10_first_tree"]
    assert "cost_price" not in " ".join(report["feature_names"])
    assert (Path(report["artifact"]) / "meta.json").is_file()

    ev = await evaluate(world, max_requests=500, progress=False)
    for surface in ("search", "feed"):
        learned = ev["lambdamart"][surface]["heavy"]["ndcg@10"]
        heuristic = ev["heuristic"][surface]["heavy"]["ndcg@10"]
        assert learned > heuristic, (surface, learned, heuristic)
    assert ev["lambdamart"]["search"]["heavy"]["ndcg@10"] > 0.15
    assert ev["lambdamart"]["search"]["heavy"]["source_recall"]["bm25@500"] > 0.6
    assert ev["lambdamart"]["feed"]["heavy"]["source_recall"]["all_sources"] > 0.3

    engine = await open_engine(world)
    try:
        assert engine.spec.scorer.name == "lambdamart"
        resp = await engine.rank(SearchRequest(query="black", explain=True))
        assert resp.items and resp.model_versions["ranker"].startswith("ranker-")
        assert resp.model_versions["index"] == world.search_backend
        assert resp.explain is not None and resp.explain.candidates > 100
        feed = await engine.rank(FeedRequest(user_id="u000010"))
        assert len(feed.items) == 20 and not feed.degraded
    finally:
        await engine.close()
