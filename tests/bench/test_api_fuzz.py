"""Schemathesis against the live server (``shopnow serve`` on loopback), under every
credential: no 5xx, only declared statuses, every JSON body as its schema says."""

from pathlib import Path

import pytest

from bench.api_fuzz import run, server_errors, server_warnings

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end


def test_fuzzing_the_live_api_finds_nothing(tmp_path: Path) -> None:
    out = run(cases=600, quick=True, workdir=tmp_path)
    assert [r["credential"] for r in out["runs"]] == [
        "none",
        "unknown",
        "admin",
        "client",
        "merchandiser",
    ]
    for r in out["runs"]:
        # schemathesis ran and generated cases for every operation (the coverage phase alone
        # sends hundreds); a failure's report is in the message
        assert r["cases"] > 300, r
        assert r["failing_cases"] == 0 and r["exit_code"] == 0, r["tail"]
    assert out["server_warnings"] == []
    assert out["server_errors"] == []
    assert out["server_exit"] is not None


def test_server_errors_are_read_from_the_log() -> None:
    log = (
        "2026-12-06 INFO faiss.loader Loading faiss.\n"
        '{"level":"WARNING","msg":"Invalid HTTP request received."}\n'
        '{"level":"ERROR","msg":"unhandled error","exc":"Traceback:\\n  x\\nValueError: bad"}\n'
        '{"level":"ERROR","msg":"unhandled error","exc":"Traceback:\\n  y\\nValueError: bad"}\n'
    )
    assert server_errors(log) == ["ValueError: bad"]


def test_server_warnings_are_read_from_the_log() -> None:
    log = (
        '{"level":"WARNING","msg":"Invalid HTTP request received."}\n'
        "/x/engine/serving/rerank/filters.py:41: RuntimeWarning: overflow encountered in cast\n"
        "  kept &= c.price.values[rows] <= f.price_max\n"
        "/x/engine/serving/rerank/filters.py:39: RuntimeWarning: overflow encountered in cast\n"
    )
    assert server_warnings(log) == ["RuntimeWarning: overflow encountered in cast"]
