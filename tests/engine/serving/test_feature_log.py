from pathlib import Path

import numpy as np

from engine.core.contracts import FeedRequest, SearchRequest
from engine.core.pipeline.stages import FeatureFrame
from engine.serving.feature_log import logged_positions, read_log, reference_positions, sampled
from tests.engine.world import DECOR, close_engine, make_engine


def test_sampling_is_by_request_id_and_near_the_rate() -> None:
    ids = [f"req-{i}" for i in range(20_000)]
    assert not any(sampled(i, 0.0) for i in ids) and all(sampled(i, 1.0) for i in ids)
    share = np.mean([sampled(i, 0.3) for i in ids])
    assert 0.28 < share < 0.32
    assert [sampled(i, 0.3) for i in ids[:50]] == [sampled(i, 0.3) for i in ids[:50]]


def test_logged_positions_are_the_top_then_random_others() -> None:
    order = np.arange(100, dtype=np.int64)[::-1]
    pos = logged_positions("r1", 100, order, top=5, others=10)
    assert pos[:5].tolist() == [99, 98, 97, 96, 95]
    assert len(pos) == 15 and len(set(pos.tolist())) == 15 and max(pos[5:]) < 95
    assert logged_positions("r1", 100, order, 5, 10).tolist() == pos.tolist()  # deterministic
    small = np.arange(8, dtype=np.int64)[::-1]
    assert sorted(logged_positions("r2", 8, small, 5, 10).tolist()) == list(range(8))  # all


def test_reference_positions_are_each_gap_features_best() -> None:
    nan = np.nan
    values = np.array(
        [[0.0, -1.0, nan, 5.0], [-2.0, 0.0, nan, 9.0], [-0.5, -3.0, nan, 1.0]], np.float32
    )
    frame = FeatureFrame(("a_gap", "b_gap", "c_gap", "d"), values)
    assert reference_positions(frame).tolist() == [0, 1]  # none for all-NaN c, none for d


async def test_sampled_requests_are_logged_whole_with_their_context(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, feature_log_rate=1.0)
    try:
        feed = await engine.rank(FeedRequest(session_items=[DECOR[0].id], page_size=5), "feed-1")
        search = await engine.rank(SearchRequest(query="phone case"), "search-1")
        await engine.feature_log.flush()
    finally:
        await close_engine(engine)
    recs = {r["request_id"]: r for r in read_log(tmp_path / "feature-log")}
    assert set(recs) == {"feed-1", "search-1"}
    r = recs["feed-1"]
    assert r["versions"]["ranker"] == feed.model_versions["ranker"]
    assert r["context"]["session"]["items"] == [DECOR[0].id]
    assert r["features"].shape == (len(r["items"]), len(r["feature_names"]))
    assert r["items"][: len(feed.items)] == [it.id for it in feed.items]  # the page first
    assert np.isnan(r["features"]).any()  # missing values survive the JSON round trip
    assert recs["search-1"]["context"]["query"] == "phone case"
    assert len(list((tmp_path / "feature-log").glob("features-*.jsonl"))) >= 1
    assert search.items


async def test_the_best_candidate_of_each_gap_feature_is_logged(tmp_path: Path) -> None:
    """The skew check recomputes features from the logged candidates alone: a pool-relative
    feature then needs its best candidate among them, however few are logged."""
    engine = await make_engine(tmp_path, feature_log_rate=1.0)
    try:
        engine.feature_log.top, engine.feature_log.others = 1, 0
        await engine.rank(SearchRequest(query="phone case"), "search-1")
        await engine.feature_log.flush()
    finally:
        await close_engine(engine)
    (rec,) = read_log(tmp_path / "feature-log")
    names = rec["feature_names"]
    gaps = [j for j, n in enumerate(names) if n.endswith("_gap")]
    assert gaps and 1 <= len(rec["items"]) <= 1 + len(gaps)
    for j in gaps:
        col = rec["features"][:, j]
        assert np.isnan(col).all() or np.nanmax(col) == 0.0, names[j]
