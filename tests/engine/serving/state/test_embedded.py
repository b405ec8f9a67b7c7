from collections.abc import AsyncIterator

import pytest

from engine.serving.state.embedded import EmbeddedStore
from tests.engine.serving.state.conformance import StoreConformance


class TestEmbeddedStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[EmbeddedStore]:
        s = EmbeddedStore(max_len=5)
        yield s
        await s.close()
