import sys
import threading

import numpy as np

from ltr.aggregates import ItemAggregates
from tests.engine.fixtures import catalog, item


def test_seller_rating_bucket_needs_min_support() -> None:
    c = catalog(
        [
            item(0, seller="big", seller_rating=4.3, seller_order_count=100),
            item(1, seller="small", seller_rating=4.9, seller_order_count=3),
            item(2, seller="big"),
        ]
    )
    agg = ItemAggregates.build(c, min_support=20)
    assert agg.seller_rating_bucket[0] == 4.5 and agg.seller_rating_bucket[2] == 4.5
    assert np.isnan(agg.seller_rating_bucket[1])


def test_price_percentile_is_within_category() -> None:
    c = catalog(
        [
            item(0, price=1),
            item(1, price=5),
            item(2, price=3),
            item(3, price=100, category=("Other", "x")),
        ]
    )
    pct = ItemAggregates.build(c, 1).price_percentile_in_category
    assert pct.tolist() == [0.0, 1.0, 0.5, 0.0]


def test_margin_level_only_for_categories_with_support() -> None:
    items = [item(i, category=("A", "a"), price=10, cost_price=9) for i in range(3)]
    items += [item(10 + i, category=("B", "b"), price=10, cost_price=2) for i in range(3)]
    items += [item(20, category=("C", "c"), price=10, cost_price=5)]
    agg = ItemAggregates.build(catalog(items), min_support=3)
    lv = agg.category_margin_level
    assert lv[0] < lv[3]  # low margin category below high margin category
    assert np.isnan(lv[6])  # one item is not enough support


def test_build_in_a_thread_while_rows_are_appended() -> None:
    """The background rebuild (and a rollout's probe) builds the tables in a thread while the
    event loop appends rows: every column it reads must reach the row count it took."""
    c = catalog(
        [item(i, seller=f"s{i % 7}", seller_rating=4.0, seller_order_count=50) for i in range(50)]
    )
    errors: list[BaseException] = []
    done = threading.Event()

    def rebuild() -> None:
        while not done.is_set():
            try:
                agg = ItemAggregates.build(c, 1)
                assert len(agg.price_percentile_in_category) == len(agg.seller_rating_bucket)
            except (ValueError, IndexError, RuntimeError, AssertionError) as e:
                errors.append(e)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=rebuild)
    reader.start()
    try:
        for i in range(50, 3050):  # new sellers and categories too
            c.upsert([item(i, seller=f"new{i}", category=("C", str(i % 40)), cost_price=1.0)])
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert not errors, errors[:1]
    assert len(ItemAggregates.build(c, 1).price_percentile_in_category) == 3050
