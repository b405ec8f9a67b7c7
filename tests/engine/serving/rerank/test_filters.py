import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import KIND_CLICK, KIND_PURCHASE, History, RequestContext
from engine.core.search import SearchFilter
from engine.serving.rerank.filters import (
    AlreadyPurchasedFilter,
    DeletedFilter,
    NotYetAvailableFilter,
    OutOfStockFilter,
    RequestFilter,
)
from tests.engine.fixtures import T0, catalog, item

CAT = catalog(
    [
        item(0, category=("Electronics", "Phones"), brand="zeta", price=500),
        item(1, category=("Electronics", "Phones", "Cases"), brand="acme", price=15),
        item(2, category=("Home", "Decor"), brand="acme", price=40, in_stock=False),
        item(3, category=("Electronics", "Laptops"), brand="zeta", price=900),
    ]
)


def _pool() -> CandidatePool:
    rows = np.arange(4, dtype=np.int64)
    return CandidatePool.merge([SourceResult("s", rows, np.ones(4, np.float32))], ("s",), 10)


def _ctx(flt: SearchFilter | None = None, surface: Surface = Surface.feed, **kw) -> RequestContext:
    return RequestContext(
        request_id="r",
        surface=surface,
        now=T0.timestamp() + 10,
        filters=flt or SearchFilter(),
        **kw,
    )


def _kept(f, ctx) -> list[int]:
    pool = _pool()
    return pool.rows[f.apply(ctx, pool).kept].tolist()


def test_category_prefix_matches_whole_path_segments() -> None:
    assert _kept(RequestFilter(CAT), _ctx(SearchFilter(categories=("Electronics/Phones",)))) == [
        0,
        1,
    ]
    assert _kept(RequestFilter(CAT), _ctx(SearchFilter(categories=("Electronics/Phone",)))) == []


def test_brand_price_and_exclude_filters() -> None:
    f = RequestFilter(CAT)
    assert _kept(f, _ctx(SearchFilter(brands=("zeta",)))) == [0, 3]
    assert _kept(f, _ctx(SearchFilter(price_min=20, price_max=600))) == [0, 2]
    assert _kept(f, _ctx(SearchFilter(exclude_ids=frozenset({"i1", "nope"})))) == [0, 2, 3]
    assert _kept(f, _ctx(SearchFilter(brands=("unknown-brand",)))) == []


def test_out_of_stock_only_when_asked() -> None:
    assert _kept(OutOfStockFilter(CAT), _ctx(SearchFilter(in_stock=True))) == [0, 1, 3]
    assert _kept(OutOfStockFilter(CAT), _ctx(SearchFilter(in_stock=None))) == [0, 1, 2, 3]


def test_already_purchased_in_feed_but_not_in_search() -> None:
    hist = History(
        np.array([0, 3], np.int64), np.array([KIND_PURCHASE, KIND_CLICK], np.int8), np.zeros(2)
    )
    assert _kept(AlreadyPurchasedFilter(), _ctx(user_history=hist)) == [1, 2, 3]
    assert _kept(AlreadyPurchasedFilter(), _ctx(surface=Surface.search, user_history=hist)) == [
        0,
        1,
        2,
        3,
    ]


def test_deleted_and_not_yet_available() -> None:
    c = catalog([item(0), item(1), item(2), item(3, created=T0.replace(year=2030))])
    c.delete("i1", 5)
    pool = _pool()
    assert pool.rows[DeletedFilter(c).apply(_ctx(), pool).kept].tolist() == [0, 2, 3]
    assert pool.rows[NotYetAvailableFilter(c).apply(_ctx(), pool).kept].tolist() == [0, 1, 2]
