"""`shopnow serve` as a real process over HTTP, on each search backend (index built, no ranker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.opensearch_node.process import free_port
from engine.core.settings import Settings
from tests.engine.world import SEARCH_BACKENDS, indexed_world

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end


@pytest.fixture(scope="module", params=SEARCH_BACKENDS)
def built(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("serve")
    with indexed_world(root, request.param, items=2000, events=20_000, seed=5) as settings:
        yield settings


def _serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHOPNOW_SEARCH_BACKEND": settings.search_backend,
        "SHOPNOW_OPENSEARCH_URL": settings.opensearch_url,
        "SHOPNOW_OPENSEARCH_ALIAS": settings.opensearch_alias,
        # the world's deadlines (offline): the answers are checked, not their latency
        "SHOPNOW_SOURCE_DEADLINE_MS": str(settings.source_deadline_ms),
        "SHOPNOW_REQUEST_DEADLINE_MS": str(settings.request_deadline_ms),
    }
    paths = ["--data", str(settings.data_dir), "--index", str(settings.index_dir)]
    cmd = [
        sys.executable,
        "-m",
        "engine.app.cli",
        "serve",
        *paths,
        "--models",
        str(settings.model_dir),
    ]
    with log.open("wb") as out:
        return subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=out, stderr=out)


def test_serve_answers_search_and_feed(built: Settings, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    proc = _serve(built, port, log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as c:
            deadline = time.monotonic() + 120
            ready = None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    ready = c.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
            assert ready is not None and ready.status_code == 200, (
                proc.stderr and proc.stderr.read()
            )
            assert ready.json()["index"] == built.search_backend and ready.json()["index_ok"]
            search = c.post("/v1/search", json={"query": "black", "explain": True}).json()
            assert search["items"] and not search["degraded"], search.get("degraded_reasons")
            assert "bm25" in search["items"][0]["explanation"]["sources"]
            feed = c.post("/v1/feed", json={"user_id": "u000001"}).json()
            assert len(feed["items"]) == 20 and not feed["degraded"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
