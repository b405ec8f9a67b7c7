from datetime import UTC, datetime

import numpy as np
import pytest

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import KIND_CLICK, History, RequestContext
from engine.core.retrieval.content import ContentSimilarity
from engine.core.retrieval.covisitation import CovisitationIndex, CoVisits, CovisParams
from engine.core.signals import Signals
from ltr.features import (
    FEATURES,
    FeatureHydrator,
    behaviour_features,
    default_feature_names,
    expand_feature_names,
    resolve,
)
from tests.engine.fixtures import catalog, item

SOURCES = ("a", "b")
SHOES = ("Sport", "Shoes")
# the toy timeline counts seconds from the epoch (signals at 20 s): items older than that
EPOCH = datetime.fromtimestamp(0, UTC)


def _world():
    cat = catalog(
        [
            item(
                0, title="Red running shoe", brand="fleet", category=SHOES, price=50, created=EPOCH
            ),
            item(
                1,
                title="Blue running shoe",
                brand="fleet",
                category=SHOES,
                price=100,
                created=EPOCH,
            ),
            item(
                2,
                title="Ceramic vase",
                brand="casa",
                category=("Home", "Decor"),
                price=30,
                created=EPOCH,
            ),
        ]
    )  # the toy timeline counts seconds from the epoch: signals at 20 s, requests at 20 s
    ev_ts = np.array([10.0, 11.0, 12.0])
    sig = Signals.build(
        ev_ts,
        np.array([0, 0, 2], np.int32),
        np.array([1, 1, 3], np.int8),
        cat.category.values,
        20.0,
    )
    return cat, sig


def test_snapshot_features_are_unknown_for_items_created_after_it() -> None:
    cat, sig = _world()
    late = datetime.fromtimestamp(sig.built_at + 5, UTC)
    cat.upsert([item(3, title="Brand new vase", category=("Home", "Decor"), created=late)])
    sig.resize(cat.category.values)
    names = ("log_popularity", "trend", "ctr", "log_impressions")
    h = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1)
    pool = CandidatePool.merge(
        [SourceResult("a", np.array([1, 3], np.int64), np.ones(2, np.float32))], SOURCES, 10
    )
    f = h.hydrate(RequestContext("r", Surface.feed, sig.built_at + 60), pool)
    old, new = f.values[0], f.values[1]
    assert np.isnan(new).all()  # created after the snapshot: unknown
    assert not np.isnan(old).any() and old[names.index("log_impressions")] == 0.0  # known zero
    # created long before, but added to the catalog after the snapshot (a backfill): unknown
    cat.upsert([item(4, title="Old stock vase", category=("Home", "Decor"), created=EPOCH)])
    sig.resize(cat.category.values)
    backfill = CandidatePool.merge(
        [SourceResult("a", np.array([4], np.int64), np.ones(1, np.float32))], SOURCES, 10
    )
    assert np.isnan(h.hydrate(RequestContext("r", Surface.feed, 60.0), backfill).values).all()


def _pool() -> CandidatePool:
    return CandidatePool.merge(
        [
            SourceResult("a", np.array([0, 1], np.int64), np.array([2.0, 1.0], np.float32)),
            SourceResult("b", np.array([2], np.int64), np.array([0.5], np.float32)),
        ],
        SOURCES,
        10,
    )


def _frame(query: str = "", history: list[int] | None = None, hydrator=None):
    cat, sig = _world()
    h = hydrator or FeatureHydrator(resolve(default_feature_names(SOURCES), SOURCES), cat, sig, 1)
    rows = np.array(history or [], np.int64)
    hist = History(rows, np.full(len(rows), KIND_CLICK, np.int8), np.zeros(len(rows)))
    ctx = RequestContext(
        request_id="r",
        surface=Surface.search if query else Surface.feed,
        now=20.0,
        query=query,
        user_id="u" if history else None,
        user_history=hist,
    )
    f = h.hydrate(ctx, _pool())
    return {n: f.values[:, j] for j, n in enumerate(f.names)}


def test_every_registered_feature_is_computed_in_order() -> None:
    f = _frame()
    assert list(f) == list(default_feature_names(SOURCES))
    assert set(FEATURES) < set(f)


def test_query_coverage_counts_query_tokens_in_title_and_brand() -> None:
    f = _frame("red shoe fleet")
    assert f["query_coverage"].tolist() == pytest.approx([1.0, 2 / 3, 0.0])
    assert f["query_brand_match"].tolist() == [1.0, 1.0, 0.0]
    assert f["is_search"].tolist() == [1.0, 1.0, 1.0]


def test_query_intent_features_read_the_query_not_the_pool() -> None:
    f = _frame("zorblat shoe")
    leaf, root = f["query_leaf_intent"], f["query_root_intent"]
    assert leaf[0] == leaf[1] > 0.7 > 0.2 > leaf[2] and root[0] == root[1] > root[2]
    assert np.isnan(_frame()["query_leaf_intent"]).all()  # feed: no query, unknown
    assert np.isnan(_frame("zorblat")["query_root_intent"]).all()  # no word the catalog has


def test_affinity_and_price_ratio_follow_the_history() -> None:
    f = _frame(history=[0, 0, 2])
    assert f["category_affinity"].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3])
    assert f["seen_before"].tolist() == [1.0, 0.0, 1.0]
    assert f["price_ratio"][1] == pytest.approx(np.log(100 / 50))
    assert np.isnan(_frame()["price_ratio"]).all()  # no history: missing, not zero


def test_source_columns_are_nan_where_a_source_did_not_propose() -> None:
    f = _frame()
    assert f["src_a_score"][:2].tolist() == [2.0, 1.0] and np.isnan(f["src_a_score"][2])
    assert f["n_sources"].tolist() == [1.0, 1.0, 1.0]
    assert f["log_popularity"][0] > f["log_popularity"][1] == 0.0


def test_new_items_read_aggregates_as_missing_until_the_rebuild() -> None:
    cat, sig = _world()
    h = FeatureHydrator(
        resolve(default_feature_names(SOURCES), SOURCES), cat, sig, 1, rebuild_every_s=3600
    )
    cat.upsert([item(3, price=10, category=("Home", "Decor"))])
    sig.resize(cat.category.values)
    h.catalog_changed()
    ctx = RequestContext(request_id="r", surface=Surface.feed, now=20.0)
    pool = CandidatePool.merge(
        [SourceResult("a", np.array([2, 3], np.int64), np.ones(2, np.float32))], SOURCES, 10
    )
    frame = h.hydrate(ctx, pool)
    j = frame.names.index("price_percentile")
    assert np.isnan(frame.values[1, j])
    h.rebuild_every_s = 0.0
    h.hydrate(ctx, pool)  # finds the tables stale: rebuilds them in the background
    h.wait_rebuilt()
    frame = h.hydrate(ctx, pool)
    assert frame.values[:, j].tolist() == [1.0, 0.0]  # the vase (30) now above the new item (10)


def test_pair_features_compare_each_candidate_with_the_last_items() -> None:
    cat, sig = _world()
    # sessions 0 -> 1 -> 2 and 2 -> 0: the sequential table only forwards
    sess, items, ts = np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 2, 0]), np.arange(5.0)
    p = CovisParams(window=1, backward_weight=0.0, normalize="none")
    sym = CovisitationIndex.build(sess, items, ts, np.ones(5), 3, CovisParams(window=1))
    seq = CovisitationIndex.build(sess, items, ts, np.ones(5), 3, p)
    names = ("covis_last1", "seq_last1", "seq_last2", "seq_leads_to_last")
    h = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1, covis=CoVisits(sym, seq))
    col = _frame(history=[2, 1], hydrator=h)  # 1 is the last item, 2 the one before
    # the pool's rows are items 0, 1, 2
    assert col["seq_last1"].tolist() == [0.0, 0.0, 1.0]  # 1 -> 2, nothing from 1 to 0
    assert col["seq_last2"].tolist() == [1.0, 0.0, 0.0]  # 2 -> 0
    assert col["seq_leads_to_last"].tolist() == [1.0, 0.0, 0.0]  # 0 -> 1
    assert col["covis_last1"][0] > 0 and col["covis_last1"][2] > 0
    # no table, or no such item in the context: unknown
    bare = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1)
    assert all(np.isnan(v).all() for v in _frame(history=[2, 1], hydrator=bare).values())
    assert np.isnan(_frame(history=[1], hydrator=h)["seq_last2"]).all()


def test_content_features_compare_each_candidate_with_the_last_items() -> None:
    cat, sig = _world()
    sym = CovisitationIndex.build(
        np.zeros(2), np.array([0, 1]), np.arange(2.0), np.ones(2), 3, CovisParams(window=1)
    )
    content = ContentSimilarity.build(cat.tokens, cat.attributes, len(cat))
    names = ("title_last1", "title_last2", "attr_last1", "attr_history")
    h = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1, covis=CoVisits(sym, None, content))
    col = _frame(history=[2, 0], hydrator=h)  # 0 (a running shoe) is the last item
    # the pool's rows are items 0, 1, 2
    assert col["title_last1"][1] > 0 and col["title_last1"][2] == 0
    assert abs(col["title_last1"][0] - 1.0) < 1e-5
    assert col["title_last2"][2] > col["title_last2"][1]  # 2 (the vase) is the one before
    assert col["attr_last1"].tolist() == [0.0, 0.0, 0.0]  # the toy items have no attributes
    # no table, or no such item in the context: unknown
    bare = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1, covis=CoVisits(sym))
    assert all(np.isnan(v).all() for v in _frame(history=[2, 0], hydrator=bare).values())
    assert np.isnan(_frame(history=[0], hydrator=h)["title_last2"]).all()


def test_basket_features_score_partners_raw_and_relative_to_the_best_one() -> None:
    cat, sig = _world()
    # one basket {0, 1, 2} and two {0, 1}: 1 is 0's usual partner, 2 an occasional one
    sess, items = np.array([0, 0, 0, 1, 1, 2, 2]), np.array([0, 1, 2, 0, 1, 1, 0])
    ts = np.arange(7.0)
    sym = CovisitationIndex.build(sess, items, ts, np.ones(7), 3, CovisParams(window=1))
    basket = CovisitationIndex.build(
        sess, items, ts, np.ones(7), 3, CovisParams(window=50, normalize="none")
    )
    names = ("basket_last1", "basket_relative_last1")
    h = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1, covis=CoVisits(sym, basket=basket))
    col = _frame(history=[0], hydrator=h)  # the pool's rows are items 0, 1, 2
    assert col["basket_last1"][1] == 3.0 and col["basket_last1"][2] == 1.0  # 3 and 1 baskets
    assert col["basket_relative_last1"][1:].tolist() == pytest.approx([1.0, 1 / 3])
    bare = FeatureHydrator(resolve(names, SOURCES), cat, sig, 1, covis=CoVisits(sym))
    assert all(np.isnan(v).all() for v in _frame(history=[0], hydrator=bare).values())


def test_gap_features_measure_each_candidate_against_the_requests_best() -> None:
    f = _frame("red shoe fleet")
    bm25, gap = f["query_bm25"], f["query_bm25_gap"]
    assert gap.max() == 0.0 and gap.tolist() == pytest.approx((bm25 - bm25.max()).tolist())
    assert gap[0] == 0.0 > gap[1] > gap[2]  # "red running shoe" by fleet matches best
    feed = _frame()  # no query: every candidate matches nothing, equally
    assert (feed["query_bm25_gap"] == 0.0).all() and np.isnan(
        feed["query_text_similarity_gap"]
    ).all()
    cat, sig = _world()
    lexical = FeatureHydrator(resolve(("src_bm25_gap",), ("bm25", "b")), cat, sig, 1)
    pool = CandidatePool.merge(
        [
            SourceResult("bm25", np.array([0, 1], np.int64), np.array([2.0, 1.0], np.float32)),
            SourceResult("b", np.array([2], np.int64), np.array([0.5], np.float32)),
        ],
        ("bm25", "b"),
        10,
    )
    src = lexical.hydrate(RequestContext("r", Surface.search, 20.0, query="shoe"), pool).values
    assert src[:2, 0].tolist() == [0.0, -1.0] and np.isnan(src[2, 0])  # b's: not a text match
    assert "src_b_gap" not in default_feature_names(("bm25", "b"))


def test_a_sample_of_the_pool_measures_against_the_whole_pool_as_served() -> None:
    cat, sig = _world()
    h = FeatureHydrator(resolve(default_feature_names(SOURCES), SOURCES), cat, sig, 1)
    ctx = RequestContext("r", Surface.search, 20.0, query="red shoe fleet")
    whole = _pool()
    served = h.hydrate(ctx, whole)
    sample = whole.take(np.array([False, True, True]))  # training's labelled rows
    trained = h.hydrate(ctx, sample, within=whole)
    np.testing.assert_array_equal(trained.values, served.values[1:])
    alone = h.hydrate(ctx, sample)  # without the whole pool the best is another candidate
    gap = trained.names.index("query_bm25_gap")
    assert trained.values[0, gap] < 0.0 == alone.values[0, gap]


def test_the_behaviour_group_names_every_feature_that_reads_behaviour() -> None:
    sources = ("bm25", "covis", "text")
    group = set(behaviour_features(sources))
    assert {"log_popularity", "ctr", "segment", "category_affinity", "covis_last1"} <= group
    assert {"title_last1", "src_covis_score", "src_covis_rank", "n_sources"} <= group
    free = set(default_feature_names(sources)) - group
    assert {"query_bm25", "query_text_similarity_gap", "src_bm25_score", "src_text_gap"} <= free
    assert {"is_search", "in_stock", "title_length", "query_leaf_intent"} <= free
    assert expand_feature_names(["behaviour", "query_bm25"], sources) == group | {"query_bm25"}
    text = set(expand_feature_names(["text"], sources))
    assert {"query_bm25", "query_text_similarity", "src_bm25_gap", "src_text_rank"} <= text
    assert not text & group and "src_covis_score" not in text and "in_stock" not in text
    with pytest.raises(ValueError, match=r"unknown features \['nope'\]"):
        expand_feature_names(["nope"], sources)
