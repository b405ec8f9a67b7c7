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


def hosts(url: str) -> list[str]:
    """The node addresses in ``url``: one, or several separated by commas."""
    found = [u.strip() for u in url.split(",") if u.strip()]
    if not found:
        raise ValueError(f"no OpenSearch address in {url!r}")
    return found


def make_client(url: str, *, timeout_s: float = 30.0, pool_size: int = 16) -> AsyncOpenSearch:
    """Client for ``url``: ``http://host:port``, or several nodes of one cluster separated by
    commas, used in turn. A request that cannot reach a node (refused, reset) goes to the next
    one, and that node rests before it is tried again; nothing else is retried here (not a
    timeout, which would overrun a deadline, nor an error status): callers decide."""
    nodes = hosts(url)
    return AsyncOpenSearch(
        hosts=nodes,
        serializer=OrjsonSerializer(),
        timeout=timeout_s,
        max_retries=len(nodes) - 1,
        retry_on_timeout=False,
        retry_on_status=(),
        maxsize=pool_size,
    )


async def close_client(client: AsyncOpenSearch) -> None:
    """Close every connection of ``client``, including those of nodes it has marked dead,
    which opensearch-py's own ``close`` leaves open."""
    await client.close()
    pool = client.transport.connection_pool
    for conn in getattr(pool, "orig_connections", ()):
        await conn.close()


async def drop_alias(url: str, alias: str) -> None:
    """Delete every index generation (``<alias>-*``) and the index template of ``alias``."""
    client = make_client(url)
    try:
        await client.indices.delete(index=f"{alias}-*")
        await client.indices.delete_index_template(name=alias, ignore=[404])
    finally:
        await close_client(client)
