"""Sentinel addresses: what they name, and a clear error for what is malformed."""

from __future__ import annotations

import pytest

from engine.core.redis_address import SentinelAddress, open_redis, parse_sentinel


def test_a_sentinel_address_names_its_sentinels_service_and_db() -> None:
    got = parse_sentinel("redis+sentinel://:s3cr%40t@h1:26379,h2:26380/shopnow/2")
    assert got == SentinelAddress((("h1", 26379), ("h2", 26380)), "shopnow", 2, "s3cr@t")
    assert parse_sentinel("redis+sentinel://h1:1/main") == SentinelAddress((("h1", 1),), "main")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h:1/0", "not a Sentinel address"),
        ("redis+sentinel://h1:26379", "no service name"),
        ("redis+sentinel://h1/shopnow", "not host:port"),
        ("redis+sentinel://h1:26379/shopnow/x", "/service or /service/db"),
    ],
)
def test_a_malformed_address_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sentinel(url)


async def test_either_kind_opens_a_client_and_its_closer() -> None:
    for url in ("redis://127.0.0.1:1/0", "redis+sentinel://127.0.0.1:1,127.0.0.1:2/shopnow"):
        client, close = open_redis(url, socket_timeout=0.1, socket_connect_timeout=0.1)
        assert client.connection_pool is not None
        await close()
