import numpy as np
import pytest

from engine.core.contracts import restricted_fields
from ltr.compliance import ComplianceError, FieldUse, check_feature_set, declared_aggregations
from ltr.features import FEATURES, Feature, default_feature_names, resolve
from ltr.train import TrainingSet, train_ranker


def test_restricted_fields_are_the_marked_ones() -> None:
    assert restricted_fields() == {"seller_rating", "seller_order_count", "cost_price"}


def test_registered_feature_set_is_compliant() -> None:
    aggs = declared_aggregations(20)
    check_feature_set([f.use() for f in FEATURES.values()], aggs, min_support=20)


def test_raw_restricted_field_is_refused_and_named() -> None:
    raw = FieldUse("seller_rating_raw", frozenset({"seller_rating"}), None)
    with pytest.raises(ComplianceError, match="seller_rating_raw"):
        check_feature_set([raw], declared_aggregations(20))


def test_aggregation_must_cover_the_fields_it_reads() -> None:
    sneaky = FieldUse("margin", frozenset({"cost_price"}), "price_percentile_in_category")
    with pytest.raises(ComplianceError, match="does not cover"):
        check_feature_set([sneaky], declared_aggregations(20))


def test_aggregation_support_below_requirement_is_refused() -> None:
    use = FieldUse("bucket", frozenset({"seller_rating"}), "seller_rating_bucket")
    with pytest.raises(ComplianceError, match="support"):
        check_feature_set([use], declared_aggregations(5), min_support=20)


def test_training_refuses_a_feature_set_with_a_raw_restricted_field() -> None:
    leaky = Feature("cost_price_raw", "item", lambda x: x.full(0.0), frozenset({"cost_price"}))
    features = [*resolve(default_feature_names(()), ()), leaky]
    names = tuple(f.name for f in features)
    rng = np.random.default_rng(0)
    ts = TrainingSet(
        rng.random((40, len(names)), dtype=np.float32),
        rng.integers(0, 2, 40).astype(np.int8),
        np.array([10, 10, 10, 10]),
        names,
        (0.0, 1.0),
    )
    with pytest.raises(ComplianceError, match="cost_price_raw"):
        train_ranker(ts, ts, features, (), min_support=20, rounds=2, progress=False)
