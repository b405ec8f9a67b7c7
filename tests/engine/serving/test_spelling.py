"""The served speller: a mistyped query is searched as the catalog spells it, and says so."""

from pathlib import Path

import httpx
import pytest

from engine.app.api.app import create_app
from engine.core.contracts import SearchRequest
from tests.engine.world import BACKENDS, close_engine, make_engine


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_mistyped_query_is_searched_as_the_catalog_spells_it(
    tmp_path: Path, backend: str
) -> None:
    engine = await make_engine(tmp_path, backend=backend)
    try:
        engine.spelling.wait()
        right = await engine.rank(SearchRequest(query="protective phone case"))
        typed = await engine.rank(SearchRequest(query="protectve phone case"))
        assert right.corrected_query is None
        assert typed.corrected_query == "protective phone case"
        assert [i.id for i in typed.items] == [i.id for i in right.items] and right.items
    finally:
        await close_engine(engine)


async def test_without_the_speller_the_query_is_searched_as_typed(tmp_path: Path) -> None:
    engine = await make_engine(tmp_path, spelling=False)
    try:
        engine.spelling.wait()
        typed = await engine.rank(SearchRequest(query="ceramic vasse"))
        assert typed.corrected_query is None and engine.speller() is None
        fixed = await make_engine(tmp_path / "on")
        try:
            fixed.spelling.wait()
            on = await fixed.rank(SearchRequest(query="ceramic vasse"))
        finally:
            await close_engine(fixed)
        assert on.corrected_query == "ceramic vase"
    finally:
        await close_engine(engine)


async def test_the_api_says_what_it_searched_and_whether_the_speller_is_built(
    tmp_path: Path,
) -> None:
    engine = await make_engine(tmp_path)
    try:
        engine.spelling.wait()
        transport = httpx.ASGITransport(app=create_app(engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.post("/v1/search", json={"query": "ceramic vasse"})
            assert r.status_code == 200 and r.json()["corrected_query"] == "ceramic vase"
            r = await c.post("/v1/search", json={"query": "ceramic vase"})
            assert r.json()["corrected_query"] is None
            assert (await c.get("/readyz")).json()["speller"] is True
    finally:
        await close_engine(engine)
