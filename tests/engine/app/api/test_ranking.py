import httpx

from tests.engine.world import CASES, PHONES


async def test_search_finds_matching_items_with_versions_and_request_id(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/v1/search",
        json={"query": "phone case", "page_size": 5},
        headers={"x-request-id": "abc-123"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["request_id"] == "abc-123" and r.headers["x-request-id"] == "abc-123"
    assert body["surface"] == "search" and not body["degraded"]
    assert body["model_versions"]["ranker"] == "heuristic-1"
    assert "index" in body["model_versions"]
    ids = [it["id"] for it in body["items"]]
    assert len(ids) == 5 and all("case" in it["title"].lower() for it in body["items"][:3])
    assert body["explain"] is None


async def test_explain_names_sources_features_and_stage_timings(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/search", json={"query": "smartphone", "explain": True})
    body = r.json()
    first = body["items"][0]["explanation"]
    assert "bm25" in first["sources"]
    assert len(first["top_features"]) == 5
    assert all({"feature", "value", "contribution"} <= set(f) for f in first["top_features"])
    stages = {s["stage"]: s for s in body["explain"]["stages"]}
    assert {"bm25", "covis", "filters", "features", "heuristic", "mmr"} <= set(stages)
    assert "popular" not in stages  # feed-only source does not run on search
    assert all(s["ms"] >= 0 for s in stages.values())
    assert body["explain"]["candidates"] >= len(body["items"])


async def test_variants_are_deduplicated(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/search", json={"query": "nova smartphone", "page_size": 50, "explain": True}
    )
    body = r.json()
    ids = [it["id"] for it in body["items"]]
    variants = {"i0", "i1", "i2", "i3"}  # one product in four colours
    assert len(ids) == len(set(ids)) and len(variants & set(ids)) == 1
    removed = {x["id"] for x in body["explain"]["removed"] if x["stage"] == "duplicate_variants"}
    assert removed == variants - set(ids)


async def test_out_of_stock_is_removed_and_explained(client: httpx.AsyncClient) -> None:
    body = (
        await client.post(
            "/v1/feed", json={"session_items": ["i201", "i202"], "explain": True, "page_size": 50}
        )
    ).json()
    assert "i200" not in [it["id"] for it in body["items"]]
    removed = {(x["id"], x["stage"]) for x in body["explain"]["removed"]}
    assert ("i200", "out_of_stock") in removed
    body = (
        await client.post(
            "/v1/feed",
            json={
                "session_items": ["i201", "i202"],
                "filters": {"in_stock_only": False},
                "page_size": 50,
            },
        )
    ).json()
    assert "i200" in [it["id"] for it in body["items"]]


async def test_feed_for_anonymous_session_uses_session_sources(client: httpx.AsyncClient) -> None:
    phone = PHONES[0].id
    r = await client.post(
        "/v1/feed", json={"session_items": [phone], "explain": True, "page_size": 10}
    )
    body = r.json()
    assert r.status_code == 200 and body["surface"] == "feed"
    sources = set().union(*(it["explanation"]["sources"] for it in body["items"]))
    assert {"covis", "popular_in_context"} & sources
    case_ids = {c.id for c in CASES}
    assert case_ids & {it["id"] for it in body["items"]}  # complements reach the feed
    assert phone not in {it["id"] for it in body["items"][:3]}


async def test_feed_with_no_user_and_no_session_gets_popular_items(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.post("/v1/feed", json={})).json()
    assert len(body["items"]) == 20 and not body["degraded"]


async def test_brand_cap_in_top_20_defers_the_excess(client: httpx.AsyncClient) -> None:
    # 9 distinct phones over 3 brands, 6 "shield" cases, 5 in-stock "casa" vases: with a cap
    # of 4 per brand, 17 items fit; the 3 over the cap come after them, explained.
    body = (await client.post("/v1/feed", json={"page_size": 20, "explain": True})).json()
    brands = [it["brand"] for it in body["items"]]
    assert len(brands) == 20
    assert max(brands[:17].count(b) for b in set(brands)) <= 4
    for it in body["items"][17:]:
        assert any("brand or seller cap" in m for m in it["explanation"]["moved_by"])


async def test_filters_restrict_every_source(client: httpx.AsyncClient) -> None:
    body = (
        await client.post(
            "/v1/feed", json={"session_items": [PHONES[0].id], "filters": {"categories": ["Home"]}}
        )
    ).json()
    assert body["items"] and all(it["category"].startswith("Home/") for it in body["items"])
    body = (
        await client.post("/v1/search", json={"query": "phone", "filters": {"price_max": 20}})
    ).json()
    assert body["items"] and all(it["price"] <= 20 for it in body["items"])


async def test_pagination_is_disjoint_and_consistent(client: httpx.AsyncClient) -> None:
    q = {"query": "phone smartphone case", "page_size": 4}
    p0 = (await client.post("/v1/search", json={**q, "page": 0})).json()
    p1 = (await client.post("/v1/search", json={**q, "page": 1})).json()
    ids0 = [i["id"] for i in p0["items"]]
    ids1 = [i["id"] for i in p1["items"]]
    assert len(ids0) == 4 and not set(ids0) & set(ids1)
    assert p0["total"] == p1["total"] >= 8
