import numpy as np

from engine.core.contracts import Surface
from engine.core.pipeline.candidates import CandidatePool, SourceResult
from engine.core.pipeline.context import RequestContext
from engine.core.pipeline.stages import Ranked
from engine.serving.rerank.diversity import BrandSellerCaps, CategoryMMR, DedupeVariants
from ltr.query_intent import QueryIntent
from tests.engine.fixtures import catalog, item

CTX = RequestContext(request_id="r", surface=Surface.feed, now=0.0)


def _ranked(n: int) -> tuple[CandidatePool, Ranked]:
    rows = np.arange(n, dtype=np.int64)
    pool = CandidatePool.merge([SourceResult("s", rows, np.ones(n, np.float32))], ("s",), 1000)
    scores = np.linspace(1, 0, n).astype(np.float32)
    return pool, Ranked(np.arange(n, dtype=np.int64), scores, {})


def test_brand_cap_in_top_depth_moves_extra_items_down_without_dropping() -> None:
    cat = catalog([item(i, brand="big" if i < 6 else f"b{i}", seller=f"s{i}") for i in range(10)])
    pool, ranked = _ranked(10)
    out = BrandSellerCaps(cat, brand_cap=2, seller_cap=5, depth=5).rerank(CTX, pool, ranked)
    top = out.order[:5].tolist()
    assert top == [0, 1, 6, 7, 8]
    assert sorted(out.order.tolist()) == list(range(10))
    assert "brand or seller cap" in out.notes[2][0]


def test_seller_cap() -> None:
    cat = catalog(
        [item(i, brand=f"b{i}", seller="one" if i % 2 == 0 else f"s{i}") for i in range(8)]
    )
    pool, ranked = _ranked(8)
    out = BrandSellerCaps(cat, brand_cap=9, seller_cap=1, depth=4).rerank(CTX, pool, ranked)
    sellers = [cat.seller.values[r] for r in out.order[:4]]
    assert len(set(sellers)) == 4


def test_dedupe_variants_keeps_best_ranked_of_each_group() -> None:
    cat = catalog(
        [
            item(0, variant="g"),
            item(1),
            item(2, variant="g"),
            item(3, variant="h"),
            item(4, variant="h"),
        ]
    )
    pool, ranked = _ranked(5)
    out = DedupeVariants(cat).rerank(CTX, pool, ranked)
    assert out.order.tolist() == [0, 1, 3]


def test_mmr_interleaves_categories_and_lambda_one_is_identity() -> None:
    cats = [("A", "x")] * 4 + [("B", "y")] * 4
    cat = catalog([item(i, category=c) for i, c in enumerate(cats)])
    pool, ranked = _ranked(8)
    out = CategoryMMR(cat, lam=0.5, head=8, depth=4).rerank(CTX, pool, ranked)
    first4 = [cat.root_category.values[r] for r in out.order[:4]]
    assert len(set(first4)) == 2 and sorted(out.order.tolist()) == list(range(8))
    same = CategoryMMR(cat, lam=1.0).rerank(CTX, pool, ranked)
    assert same.order.tolist() == list(range(8))


def test_mmr_on_search_keeps_the_leaf_the_query_asks_for_and_mixes_an_ambiguous_one() -> None:
    drawers = [item(i, title="drawer organizer", category=("Home", "Drawers")) for i in range(4)]
    desks = [item(i, title="desk organizer", category=("Office", "Desks")) for i in range(4, 8)]
    cat = catalog(drawers + desks)
    intent = QueryIntent.build(cat)
    pool, ranked = _ranked(8)
    mmr = CategoryMMR(cat, lam=0.5, head=8, depth=4, intent=lambda: intent)

    def first4(query: str, surface: Surface = Surface.search) -> list[int]:
        ctx = RequestContext(request_id="r", surface=surface, now=0.0, query=query)
        return mmr.rerank(ctx, pool, ranked).order[:4].tolist()

    assert first4("drawer organizer") == [0, 1, 2, 3]  # all of the intent on one leaf
    mixed = first4("organizer")  # half and half: both leaves on the first places
    assert len({cat.root_category.values[r] for r in mixed}) == 2
    assert first4("zorblat") == first4("", Surface.feed) == mixed  # no intent: plain MMR
