from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engine.app.api.app import create_app
from engine.serving.service import Engine
from tests.engine.world import BACKENDS, close_engine, make_engine


@pytest.fixture(params=BACKENDS)
async def engine(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """Every API test runs on each search backend."""
    e = await make_engine(tmp_path, backend=request.param)
    yield e
    await close_engine(e)


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
