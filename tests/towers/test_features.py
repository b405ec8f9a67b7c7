from __future__ import annotations

import numpy as np
import pytest

from engine.core.vocab import Vocab
from ltr.compliance import ComplianceError, FieldUse, check_feature_set, declared_aggregations
from towers.features import (
    FIELD_USES,
    category_tokens,
    check_compliance,
    embedding_ids,
    embedding_rows,
    hash_ids,
    margin_level_ids,
    pad_ids,
    price_bucket,
    seller_rating_ids,
)


def test_embedding_ids_reserve_zero_for_unknown() -> None:
    v = Vocab.from_counts(["b", "a", "b", "c", "c", "c"], min_count=2)
    assert v.names() == ["c", "b"]
    ids = embedding_ids(v, ["c", "b", "a", "zzz"])
    assert ids.dtype == np.int64 and ids.tolist() == [1, 2, 0, 0]
    assert embedding_rows(v) == 3
    assert embedding_ids(v, []).tolist() == []


def test_category_levels_are_prefixes() -> None:
    assert category_tokens(["A", "B", "C"]) == ["A", "A>B", "A>B>C"]
    assert pad_ids([[1, 2], [3]]).tolist() == [[1, 2], [3, 0]]


def test_buckets_map_missing_to_zero() -> None:
    assert price_bucket([0.0, 0.05, 0.5, 1.0, np.nan], 10).tolist() == [1, 1, 6, 10, 0]
    assert seller_rating_ids([0.0, 4.5, 5.0, np.nan]).tolist() == [1, 10, 11, 0]
    assert margin_level_ids([0, 1, 2, np.nan]).tolist() == [1, 2, 3, 0]


def test_hash_ids_are_stable_and_in_range() -> None:
    a = hash_ids(["x", "y", "x"], 16)
    assert a[0] == a[2]
    assert ((a >= 1) & (a <= 16)).all()
    assert hash_ids(["x"], 16)[0] == a[0]


def test_the_item_tower_inputs_pass_compliance() -> None:
    check_compliance(20)


def test_a_raw_restricted_input_would_be_refused() -> None:
    bad = (*FIELD_USES, FieldUse("raw_rating", frozenset({"seller_rating"}), None))
    with pytest.raises(ComplianceError, match="raw_rating"):
        check_feature_set(bad, declared_aggregations(20))
