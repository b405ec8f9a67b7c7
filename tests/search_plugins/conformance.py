"""One behaviour suite for every SearchIndex backend (embedded, OpenSearch).

A backend's test module subclasses :class:`SearchIndexConformance` and provides an ``index``
fixture yielding an empty index of dimension :data:`DIM`. Expected answers come from brute
force over the fixture catalog, so every backend is held to the same truth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from engine.core.arrays import F32
from engine.core.search import IndexDoc, SearchFilter, SearchIndex
from search_plugins.fusion import hybrid

DIM = 16
CATEGORIES = (
    "Electronics/Phones/Smartphones",
    "Electronics/Phones/Accessories",
    "Electronics/Laptops",
    "Home/Kitchen",
    "Home/Garden",
)
BRANDS = ("acme", "globex", "initech", "umbrella")
WORDS = ("red", "blue", "green", "cotton", "steel", "wireless", "compact", "deluxe")


def catalog(n: int = 120, seed: int = 7) -> list[IndexDoc]:
    """Deterministic docs: every text contains "item"; every 10th vector is of model "m2"."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS, size=3, replace=False))
        docs.append(
            IndexDoc(
                id=f"d{i}",
                version=1,
                text=f"item {words} {i}",
                category=CATEGORIES[i % len(CATEGORIES)],
                brand=BRANDS[i % len(BRANDS)],
                seller_id=f"s{i % 3}",
                price=float(5 + (i * 37) % 100),
                in_stock=i % 3 != 0,
                created_at=1.7e9 + i,
                vector=rng.standard_normal(DIM).astype(np.float32),
                vector_model="m2" if i % 10 == 0 else "m1",
            )
        )
    return docs


def passes(doc: IndexDoc, flt: SearchFilter | None) -> bool:
    if flt is None:
        return True
    cat_ok = flt.categories is None or any(
        doc.category == c or doc.category.startswith(c + "/") for c in flt.categories
    )
    return (
        cat_ok
        and (flt.brands is None or doc.brand in flt.brands)
        and (flt.in_stock is None or doc.in_stock == flt.in_stock)
        and (flt.price_min is None or doc.price >= flt.price_min)
        and (flt.price_max is None or doc.price <= flt.price_max)
        and doc.id not in flt.exclude_ids
    )


def brute_vector(
    docs: list[IndexDoc], q: F32, k: int, flt: SearchFilter | None, model: str
) -> list[str]:
    ok = [d for d in docs if d.vector is not None and d.vector_model == model and passes(d, flt)]
    scored = sorted(ok, key=lambda d: -float(np.dot(d.vector, q)))  # type: ignore[arg-type]
    return [d.id for d in scored[:k]]


FILTERS = {
    "category_top": SearchFilter(categories=("Electronics",)),
    "category_leaf": SearchFilter(categories=("Electronics/Phones/Smartphones",)),
    "category_any_of": SearchFilter(categories=("Home/Garden", "Electronics/Laptops")),
    "category_not_a_word_prefix": SearchFilter(categories=("Electro",)),
    "brand": SearchFilter(brands=("acme", "initech")),
    "in_stock": SearchFilter(in_stock=True),
    "out_of_stock": SearchFilter(in_stock=False),
    "price_range": SearchFilter(price_min=20.0, price_max=60.0),
    "price_min_inclusive": SearchFilter(price_min=42.0),
    "exclude_ids": SearchFilter(exclude_ids=frozenset({"d1", "d2", "d3"})),
    "combined": SearchFilter(categories=("Home",), brands=("globex",), in_stock=True),
    "category_mixed_levels": SearchFilter(categories=("Home/Garden", "Electronics")),
    "category_and_price": SearchFilter(categories=("Home",), price_min=30.0, price_max=80.0),
    "category_and_exclude": SearchFilter(
        categories=("Home",), exclude_ids=frozenset({"d3", "d4", "d8", "d0"})
    ),
}
QUERY = np.linspace(-1.0, 1.0, DIM, dtype=np.float32)
Reopen = Callable[[SearchIndex], Awaitable[SearchIndex]]


class SearchIndexConformance:
    """Subclasses provide an ``index`` fixture: an empty backend of dimension ``DIM``, and a
    ``reopen`` fixture: a function giving a second handle on the same stored index, as a
    restarted process opens it."""

    async def test_vector_arriving_later_completes_the_same_version(
        self, index: SearchIndex
    ) -> None:
        """Text first, the vector of the same version later: the second write wins; the text-
        only write arriving after it, or an older version with a vector, loses."""
        doc = catalog(1)[0]
        bare = dataclasses.replace(doc, version=3, vector=None, vector_model="")
        full = dataclasses.replace(doc, version=3)
        assert (await index.upsert([bare])).applied == 1
        await index.refresh()
        assert (await index.lexical("item", 5)).ids == ["d0"]
        assert (await index.vector(QUERY, 5, model="m2")).ids == []
        assert (await index.upsert([full])).applied == 1
        assert (await index.upsert([bare])).stale == ["d0"]
        assert (await index.upsert([dataclasses.replace(doc, version=2)])).stale == ["d0"]
        await index.refresh()
        assert (await index.vector(QUERY, 5, model="m2")).ids == ["d0"]
        assert await index.versions(["d0"]) == {"d0": 3}
        assert await index.delete(["d0"], 3) == 1  # a delete of the version beats both writes
        assert (await index.upsert([full])).stale == ["d0"]

    async def test_persisted_writes_survive_a_new_handle(
        self, index: SearchIndex, reopen: Reopen
    ) -> None:
        docs = catalog(30)
        await index.upsert(docs)
        await index.delete(["d3"], 1)
        await index.upsert([dataclasses.replace(docs[5], version=2, text="item zebra")])
        await index.refresh()
        await index.persist()
        again = await reopen(index)
        try:
            assert await again.count() == 29, await again.count()
            assert (await again.versions(["d3", "d5", "d6"])) == {"d5": 2, "d6": 1}
            assert (await again.lexical("zebra", 3)).ids == ["d5"]
        finally:
            await again.close()

    async def test_blue_green_rebuild_swaps_every_vector_at_once(
        self, index: SearchIndex, reopen: Reopen
    ) -> None:
        """A re-embedding: the new generation holds every item with a vector of model "m3";
        searches answer from the old one (model m1) until the promotion, then from the new one
        only; live writes during the fill reach both, and the fill does not undo them."""
        docs = catalog(40)
        await index.upsert(docs)
        await index.refresh()
        rng = np.random.default_rng(3)
        redone = [
            dataclasses.replace(
                d, vector=rng.standard_normal(DIM).astype(np.float32), vector_model="m3"
            )
            for d in docs
        ]
        await index.begin_generation()
        before = (await index.vector(QUERY, 5, model="m1")).ids
        assert before == brute_vector(docs, QUERY, 5, None, "m1")
        live = dataclasses.replace(redone[7], version=2, text="item zebra")
        assert (await index.upsert([live])).applied == 1
        assert await index.delete(["d8"], 1) == 1
        report = await index.fill(redone)
        assert report.applied == 38 and sorted(report.stale) == ["d7", "d8"]
        await index.refresh()
        assert (await index.vector(QUERY, 5, model="m1")).ids == before  # still the old one
        assert (await index.vector(QUERY, 5, model="m3")).ids == ["d7"]  # the live write
        await index.promote()
        expect = [d for d in redone if d.id not in ("d7", "d8")] + [live]
        assert (await index.vector(QUERY, 40, model="m1")).ids == []
        got = (await index.vector(QUERY, 10, model="m3")).ids
        assert sorted(got) == sorted(brute_vector(expect, QUERY, 10, None, "m3"))  # near ties
        assert await index.count() == 39
        assert (await index.lexical("zebra", 3)).ids == ["d7"]
        assert await index.versions(["d7", "d8"]) == {"d7": 2}
        await index.upsert([dataclasses.replace(redone[1], version=2, text="item yak")])
        await index.refresh()
        await index.persist()
        again = await reopen(index)  # the promoted generation is what a restart opens
        try:
            assert (await again.lexical("yak", 3)).ids == ["d1"]
            assert await again.count() == 39
        finally:
            await again.close()

    @pytest.fixture
    async def loaded(self, index: SearchIndex) -> SearchIndex:
        report = await index.upsert(catalog())
        assert report.applied == 120 and not report.stale and not report.failed
        await index.refresh()
        return index

    async def test_lexical_finds_by_text(self, loaded: SearchIndex) -> None:
        hits = await loaded.lexical("17", 10)
        assert hits.ids == ["d17"]
        assert hits.scores.dtype == np.float32

    async def test_bm25_more_matching_terms_rank_first(self, index: SearchIndex) -> None:
        base = catalog(3)
        texts = ["solar lantern", "solar garden lantern hook", "garden hose"]
        docs = [dataclasses.replace(d, text=t) for d, t in zip(base, texts, strict=True)]
        await index.upsert(docs)
        await index.refresh()
        hits = await index.lexical("solar garden lantern", 10)
        assert hits.ids[0] == "d1"
        assert set(hits.ids) == {"d0", "d1", "d2"}  # OR semantics
        assert list(hits.scores) == sorted(hits.scores, reverse=True)

    async def test_stemming_and_case(self, loaded: SearchIndex) -> None:
        await loaded.upsert([dataclasses.replace(catalog(1)[0], id="x", text="Running SHOES")])
        await loaded.refresh()
        assert (await loaded.lexical("shoe runs", 5)).ids == ["x"]

    async def test_stale_versions_are_refused_and_reported(self, loaded: SearchIndex) -> None:
        d5 = catalog()[5]
        newer = dataclasses.replace(d5, version=3, text="zeppelin")
        assert (await loaded.upsert([newer])).applied == 1
        older = dataclasses.replace(d5, version=2, text="blimp")
        equal = dataclasses.replace(d5, version=3, text="blimp")
        report = await loaded.upsert([older, equal])
        assert report.applied == 0 and report.stale == ["d5", "d5"]
        await loaded.refresh()
        assert (await loaded.lexical("zeppelin", 5)).ids == ["d5"]
        assert len(await loaded.lexical("blimp", 5)) == 0
        assert await loaded.versions(["d5", "d6", "nope"]) == {"d5": 3, "d6": 1}

    async def test_update_replaces_text_attributes_and_vector(self, loaded: SearchIndex) -> None:
        d7 = catalog()[7]
        vec = (QUERY * 10).astype(np.float32)
        new = dataclasses.replace(d7, version=2, text="airship", brand="zorg", vector=vec)
        await loaded.upsert([new])
        await loaded.refresh()
        assert (await loaded.lexical("airship", 5)).ids == ["d7"]
        assert len(await loaded.lexical("17", 5)) == 1  # the old text "... 7" is gone
        assert len(await loaded.lexical("7", 5)) == 0
        assert (await loaded.lexical("airship", 9, SearchFilter(brands=("zorg",)))).ids == ["d7"]
        assert (await loaded.vector(QUERY, 1, model="m1")).ids == ["d7"]
        assert await loaded.count() == 120

    async def test_category_move_and_delete_seen_by_filtered_search(
        self, loaded: SearchIndex
    ) -> None:
        d7, d12 = catalog()[7], catalog()[12]  # both Electronics/Laptops, model m1
        moved = dataclasses.replace(d7, version=2, category="Home/Garden")  # same vector
        turned = dataclasses.replace(d12, version=2, vector=(QUERY * 3).astype(np.float32))
        await loaded.upsert([moved, turned])
        await loaded.delete(["d17"], 1)  # Electronics/Laptops too
        await loaded.refresh()
        docs = {d.id: d for d in catalog()}
        docs.update(d7=moved, d12=turned)
        del docs["d17"]
        for cats in (("Home",), ("Electronics",), ("Electronics/Laptops", "Home/Garden")):
            flt = SearchFilter(categories=cats)
            hits = await loaded.vector(QUERY, 200, flt, model="m1")
            assert hits.ids == brute_vector(list(docs.values()), QUERY, 200, flt, "m1")
        top = await loaded.vector(QUERY, 1, SearchFilter(categories=("Electronics",)), "m1")
        assert top.ids == ["d12"]

    async def test_delete_with_versions(self, loaded: SearchIndex) -> None:
        await loaded.upsert([dataclasses.replace(catalog()[9], version=5)])
        assert await loaded.delete(["d9"], 4) == 0  # older than stored: ignored
        assert await loaded.delete(["d8", "d9", "missing"], 5) == 2
        await loaded.refresh()
        assert await loaded.count() == 118
        assert await loaded.versions(["d8", "d9"]) == {}
        found = await loaded.lexical("item", 500)
        assert "d8" not in found.ids and "d9" not in found.ids and len(found) == 118
        assert "d8" not in (await loaded.vector(QUERY, 500, model="m1")).ids

    async def test_upsert_after_delete_respects_tombstone(self, loaded: SearchIndex) -> None:
        d4 = catalog()[4]
        assert await loaded.delete(["d4"], 3) == 1
        report = await loaded.upsert([dataclasses.replace(d4, version=3)])
        assert report.stale == ["d4"] and report.applied == 0
        await loaded.refresh()
        assert await loaded.versions(["d4"]) == {}
        assert (await loaded.upsert([dataclasses.replace(d4, version=4, text="revived")])).applied
        await loaded.refresh()
        assert (await loaded.lexical("revived", 5)).ids == ["d4"]
        assert await loaded.versions(["d4"]) == {"d4": 4}
        assert await loaded.count() == 120

    async def test_delete_of_unknown_id_tombstones_it(self, index: SearchIndex) -> None:
        assert await index.delete(["ghost"], 2) == 0
        report = await index.upsert([dataclasses.replace(catalog(1)[0], id="ghost", version=2)])
        assert report.stale == ["ghost"]

    @pytest.mark.parametrize("name", sorted(FILTERS))
    async def test_lexical_filters(self, loaded: SearchIndex, name: str) -> None:
        flt = FILTERS[name]
        expected = {d.id for d in catalog() if passes(d, flt)}
        hits = await loaded.lexical("item", 500, flt)
        assert set(hits.ids) == expected
        assert len(hits.ids) == len(expected)

    @pytest.mark.parametrize("name", sorted(FILTERS))
    async def test_vector_filters_match_brute_force(self, loaded: SearchIndex, name: str) -> None:
        flt = FILTERS[name]
        hits = await loaded.vector(QUERY, 10, flt, model="m1")
        assert hits.ids == brute_vector(catalog(), QUERY, 10, flt, "m1")
        assert list(hits.scores) == sorted(hits.scores, reverse=True)

    async def test_restrictive_filter_returns_exact_top_k(self, loaded: SearchIndex) -> None:
        flt = SearchFilter(categories=("Home/Garden",), brands=("umbrella",), in_stock=True)
        expected = brute_vector(catalog(), QUERY, 5, flt, "m1")
        assert 0 < len(expected) <= 5
        assert (await loaded.vector(QUERY, 5, flt, model="m1")).ids == expected
        assert set((await loaded.lexical("item", 5, flt)).ids) <= {
            d.id for d in catalog() if passes(d, flt)
        }

    async def test_vector_top_k_equals_brute_force(self, loaded: SearchIndex) -> None:
        rng = np.random.default_rng(1)
        for _ in range(5):
            q = rng.standard_normal(DIM).astype(np.float32)
            hits = await loaded.vector(q, 20, model="m1")
            assert hits.ids == brute_vector(catalog(), q, 20, None, "m1")
            docs = {d.id: d for d in catalog()}
            want = [float(np.dot(docs[i].vector, q)) for i in hits.ids]  # type: ignore[arg-type]
            np.testing.assert_allclose(hits.scores, want, rtol=1e-4, atol=1e-4)

    async def test_model_versions_are_isolated(self, loaded: SearchIndex) -> None:
        m2 = await loaded.vector(QUERY, 100, model="m2")
        assert m2.ids == brute_vector(catalog(), QUERY, 100, None, "m2")
        assert len(m2) == 12
        assert len(await loaded.vector(QUERY, 10, model="m3")) == 0

    async def test_k_larger_than_matches(self, loaded: SearchIndex) -> None:
        flt = SearchFilter(brands=("acme",), in_stock=False)
        n = sum(passes(d, flt) for d in catalog())
        assert len(await loaded.lexical("item", 1000, flt)) == n
        assert len(await loaded.vector(QUERY, 1000, flt, model="m1")) == len(
            brute_vector(catalog(), QUERY, 1000, flt, "m1")
        )

    async def test_empty_index_and_empty_results(self, index: SearchIndex) -> None:
        assert len(await index.lexical("anything", 10)) == 0
        assert len(await index.vector(QUERY, 10, model="m1")) == 0
        assert await index.count() == 0
        await index.upsert(catalog(5))
        await index.refresh()
        assert len(await index.lexical("nonexistentword", 10)) == 0
        assert len(await index.lexical("", 10)) == 0
        assert len(await index.lexical("item", 10, SearchFilter(brands=("nobody",)))) == 0
        assert len(await index.vector(QUERY, 10, SearchFilter(price_min=1e9), "m1")) == 0

    @pytest.mark.parametrize(
        "query",
        ["foo:bar (", '"unbalanced', "a AND OR NOT", "item^2 ~ * ?", "[1 TO", "-+!{}\\/", "   "],
    )
    async def test_weird_query_syntax_does_not_raise(self, loaded: SearchIndex, query: str) -> None:
        hits = await loaded.lexical(query, 10)
        assert len(hits) <= 10

    async def test_count_and_versions(self, loaded: SearchIndex) -> None:
        assert await loaded.count() == 120
        got = await loaded.versions(["d0", "d119", "d120"])
        assert got == {"d0": 1, "d119": 1}

    async def test_failed_docs_are_reported(self, index: SearchIndex) -> None:
        bad = dataclasses.replace(catalog(1)[0], vector=np.zeros(DIM + 1, dtype=np.float32))
        report = await index.upsert([bad, catalog(2)[1]])
        assert report.applied == 1 and list(report.failed) == ["d0"]

    async def test_lexical_and_vector_in_one_call(self, loaded: SearchIndex) -> None:
        flt = FILTERS["category_top"]
        lex, vec = await loaded.lexical_and_vector("wireless item", QUERY, 7, flt, "m1")
        assert lex.ids == (await loaded.lexical("wireless item", 7, flt)).ids
        assert vec.ids == brute_vector(catalog(), QUERY, 7, flt, "m1")
        fused = await hybrid(loaded, "wireless item", QUERY, 7, flt, "m1")
        assert len(fused) == 7 and set(fused.ids) <= set(lex.ids) | set(vec.ids)
        both = set(lex.ids) & set(vec.ids)
        if both:  # an item both searches found outranks one found by a single search
            assert fused.ids[0] in both
