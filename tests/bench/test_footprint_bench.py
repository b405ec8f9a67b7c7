"""Bytes per vector (with and without scalar quantisation) and per Redis user, measured on a
small sample (figures: ``python -m bench.footprint_bench``)."""

from __future__ import annotations

import json

import pytest

from bench.footprint_bench import main
from tests.servers import OPENSEARCH_URL, REDIS_URL, needs_opensearch, needs_redis


@needs_opensearch
@needs_redis
@pytest.mark.slow
def test_quantised_vectors_take_less_of_the_page_cache(capsys: pytest.CaptureFixture[str]) -> None:
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/12"
    assert main(["--smoke", "--opensearch-url", OPENSEARCH_URL, "--redis-url", redis_url]) == 0
    report = json.loads(capsys.readouterr().out)
    flt, sq = report["opensearch"]["float32"], report["opensearch"]["sq"]
    dim = report["dim"]
    assert flt["segments"] == sq["segments"] == 1  # merged (the default)
    # float32: 4 bytes a dimension; int8: 1, plus a correction per vector
    assert 4 * dim <= flt["files_bytes_per_vector"]["vec (raw vectors)"] < 4 * dim + 8
    assert dim <= sq["files_bytes_per_vector"]["veq (quantised vectors)"] < dim + 16
    assert sq["hot_bytes_per_vector"] < flt["hot_bytes_per_vector"] - 2 * dim
    assert flt["knn_search_one_shard"]["qps"] > 0
    assert flt["knn_search_one_shard"]["ef_search"] == 200  # the served queries' setting
    rd = report["redis"]
    # a day's 20 interactions and 3 queries of one user are hundreds of bytes, not megabytes
    assert 200 < rd["bytes_per_user"] < 20_000 and 0 < rd["bytes_per_item_counter"] < 2_000
