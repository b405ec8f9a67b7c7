"""`shopnow serve --workers 2` as real processes on one socket, on each search backend: an item
written through whichever process took it is served by both; a killed worker is replaced and
takes its slot (its index copy, its checkpoint) back."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from devtools.opensearch_node.process import free_port
from engine.app.workers import SlotsTaken, claim_slot, own_index
from engine.core.settings import Settings
from search_plugins.embedded.index import EmbeddedIndex, generation_of
from tests.engine.fixtures import item
from tests.engine.world import SEARCH_BACKENDS, indexed_world
from tests.servers import REDIS_URL, needs_redis

REPLICA = "X-Shopnow-Replica"
WAIT_S = 180.0  # two processes open their engines at once on a busy CI machine


@pytest.fixture(scope="module", params=SEARCH_BACKENDS)
def built(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("workers")
    with indexed_world(root, request.param, items=1500, events=15_000, seed=9) as settings:
        yield settings


def _redis_url() -> str:
    """A database of the test server of its own, emptied."""
    url = REDIS_URL.rsplit("/", 1)[0] + "/11"
    redis.Redis.from_url(url).flushdb()
    return url


def _serve(settings: Settings, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHOPNOW_SEARCH_BACKEND": settings.search_backend,
        "SHOPNOW_OPENSEARCH_URL": settings.opensearch_url,
        "SHOPNOW_OPENSEARCH_ALIAS": settings.opensearch_alias,
        "SHOPNOW_ONLINE_STORE": "redis",
        "SHOPNOW_REDIS_URL": _redis_url(),
        "SHOPNOW_INGEST_POLL_S": "0.2",
        "SHOPNOW_METRICS_SNAPSHOT_S": "0.3",
        "SHOPNOW_SOURCE_DEADLINE_MS": str(settings.source_deadline_ms),
        "SHOPNOW_REQUEST_DEADLINE_MS": str(settings.request_deadline_ms),
    }
    cmd = [sys.executable, "-m", "engine.app.cli", "serve", "--port", str(port)]
    cmd += ["--data", str(settings.data_dir), "--index", str(settings.index_dir)]
    cmd += ["--models", str(settings.model_dir), "--workers", str(workers)]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out, start_new_session=True)


def _get(url: str, path: str) -> httpx.Response:
    """A request on a connection of its own, so that any worker may take it."""
    return httpx.get(url + path, headers={"Connection": "close"}, timeout=10.0)


def _replicas_ready(url: str, want: set[str], proc: subprocess.Popen[bytes]) -> set[str]:
    """Ask /readyz on new connections until every worker in ``want`` answered ready."""
    seen: set[str] = set()
    deadline = time.monotonic() + WAIT_S
    while seen != want and time.monotonic() < deadline and proc.poll() is None:
        try:
            r = _get(url, "/readyz")
            if r.status_code == 200:
                seen.add(r.json()["replica"])
                assert r.headers[REPLICA] == r.json()["replica"]
        except httpx.TransportError:
            time.sleep(0.3)
    return seen


def _search_ids(url: str, query: str) -> tuple[str, list[str]]:
    r = httpx.post(
        url + "/v1/search",
        json={"query": query, "page_size": 5},
        headers={"Connection": "close"},
        timeout=10.0,
    )
    assert r.status_code == 200, r.text
    return r.headers[REPLICA], [it["id"] for it in r.json()["items"]]


def _served_by_all(url: str, query: str, item_id: str, want: set[str]) -> set[str]:
    """The workers that returned ``item_id`` first for ``query`` within the time allowed."""
    have: set[str] = set()
    deadline = time.monotonic() + 30
    while have != want and time.monotonic() < deadline:
        replica, ids = _search_ids(url, query)
        if ids[:1] == [item_id]:
            have.add(replica)
        time.sleep(0.05)
    return have


def _searches_by_replica(url: str) -> set[str]:
    """The processes a scrape of /metrics reports searches answered by (asked until both)."""
    seen: set[str] = set()
    deadline = time.monotonic() + 10
    while seen != {"0", "1"} and time.monotonic() < deadline:
        r = _get(url, "/metrics")
        assert r.status_code == 200
        seen = {
            s.labels["replica"]
            for fam in text_string_to_metric_families(r.text)
            for s in fam.samples
            if s.name == "shopnow_request_seconds_count"
            and s.labels["surface"] == "search"
            and s.value > 0
        }
        time.sleep(0.2)
    return seen


def _workers(pid: int) -> list[int]:
    """The worker processes uvicorn started (not its multiprocessing resource tracker)."""
    kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


@pytest.mark.slow  # builds a world and serves it from real processes
@needs_redis
def test_two_workers_share_writes_and_survive_a_killed_one(built: Settings, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = _serve(built, port, 2, log)
    both = {"0", "1"}
    try:
        assert _replicas_ready(url, both, proc) == both, log.read_text()[-3000:]
        new = item(90_001, title="Zorblax espresso grinder", category=("Home", "Kitchen"))
        r = httpx.put(url + "/v1/items", json={"items": [new.model_dump(mode="json")]})
        assert r.status_code in (200, 202), r.text
        assert _served_by_all(url, "zorblax", new.id, both) == both
        # a scrape answered by either process counts both processes' requests
        assert _searches_by_replica(url) == both
        # one copy per slot, beside the shared ingest log
        assert sorted(p.name for p in (built.data_dir / "replicas").iterdir() if p.is_dir()) == [
            "0",
            "1",
        ]

        victim = _workers(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + WAIT_S
        while victim in _workers(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _replicas_ready(url, both, proc) == both, log.read_text()[-3000:]
        assert _served_by_all(url, "zorblax", new.id, both) == both
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_workers_refuse_the_embedded_online_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHOPNOW_ONLINE_STORE"}
    cmd = [sys.executable, "-m", "engine.app.cli", "serve", "--workers", "2"]
    cmd += ["--data", str(tmp_path), "--port", str(free_port())]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "needs a shared online store" in done.stderr and "SHOPNOW_ONLINE_STORE" in done.stderr


def test_slots_are_claimed_once_and_freed_with_their_holder(tmp_path: Path) -> None:
    first, lock0 = claim_slot(tmp_path, 2)
    second, lock1 = claim_slot(tmp_path, 2)
    assert (first, second) == (0, 1)
    with pytest.raises(SlotsTaken, match="another `shopnow serve`"):
        claim_slot(tmp_path, 2)
    lock0.close()  # the process holding slot 0 ended
    again, lock = claim_slot(tmp_path, 2)
    assert again == 0
    lock.close()
    lock1.close()


def test_a_slot_copies_the_index_once_and_again_after_a_rebuild(tmp_path: Path) -> None:
    base, own = tmp_path / "index", tmp_path / "replicas" / "0"
    EmbeddedIndex.create(str(base), dim=4).close_sync()
    base_ckpt = tmp_path / "ingest" / "ingest.checkpoint"
    base_ckpt.parent.mkdir()
    base_ckpt.write_text("7")
    copy = own_index(base, base_ckpt, own)
    assert generation_of(str(copy)) == generation_of(str(base)) != ""
    assert (own / "ingest.checkpoint").read_text() == "7"
    (own / "ingest.checkpoint").write_text("9")  # the slot's process went on
    assert own_index(base, base_ckpt, own) == copy
    assert (own / "ingest.checkpoint").read_text() == "9"  # kept: the copy is the same index
    shutil.rmtree(base)  # `shopnow index` built it again
    EmbeddedIndex.create(str(base), dim=4).close_sync()
    assert generation_of(str(own_index(base, base_ckpt, own))) == generation_of(str(base))
    assert (own / "ingest.checkpoint").read_text() == "7"
