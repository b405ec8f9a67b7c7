from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engine.api.app import create_app
from engine.service import Engine
from tests.engine.world import make_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await make_engine(tmp_path)
    yield e
    await e.close()


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
