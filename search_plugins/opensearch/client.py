"""One async opensearch-py client per process, serialising with orjson (numpy aware)."""

from __future__ import annotations

from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.serializer import JSONSerializer


class OrjsonSerializer(JSONSerializer):
    """Bulk bodies carry thousands of float vectors; orjson writes them ~10x faster."""

    def dumps(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()

    def loads(self, s: str) -> Any:
        return orjson.loads(s)


def make_client(url: str, *, timeout_s: float = 30.0, pool_size: int = 16) -> AsyncOpenSearch:
    """Client for ``url`` (``http://host:port``); no client-side retries, callers decide."""
    return AsyncOpenSearch(
        hosts=[url],
        serializer=OrjsonSerializer(),
        timeout=timeout_s,
        max_retries=0,
        retry_on_timeout=False,
        maxsize=pool_size,
    )


async def drop_alias(url: str, alias: str) -> None:
    """Delete every index generation (``<alias>-*``) and the index template of ``alias``."""
    client = make_client(url)
    try:
        await client.indices.delete(index=f"{alias}-*")
        await client.indices.delete_index_template(name=alias, ignore=[404])
    finally:
        await client.close()
