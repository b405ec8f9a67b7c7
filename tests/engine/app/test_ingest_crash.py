"""SIGKILL in the middle of bulk writes loses nothing: after a restart every accepted item is in
the index exactly once, at its latest version, and every malformed line is a dead letter."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from engine.core.settings import Settings
from engine.offline.train import build_index
from engine.serving import backends
from ingest.deadletter import DEAD_LETTER_FILE
from ingest.log import CHECKPOINT_FILE
from tests.engine.fixtures import item
from tests.engine.world import SEARCH_BACKENDS, synthetic_world

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end

NEW = 3000  # new items, each written in 3 versions, shuffled
BAD_LINES = {17: "{not json", 4242: "[1, 2]"}


@pytest.fixture(params=SEARCH_BACKENDS)
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    with synthetic_world(tmp_path, request.param, items=500, events=5000, seed=5) as settings:
        asyncio.run(build_index(settings, progress=False))
        yield settings


def _changes(path: Path) -> tuple[dict[str, int], set[str]]:
    """Write the input file; returns the expected latest version per live id and the deleted."""
    rng = random.Random(0)
    lines: list[bytes] = []
    for i in range(NEW):
        for v in (1, 2, 3):
            it = item(100_000 + i, title=f"crash test {i} v{v}", version=v)
            lines.append(orjson.dumps(it.model_dump(mode="json")))
    rng.shuffle(lines)  # versions arrive out of order
    deleted = {f"i{100_000 + i}" for i in range(0, NEW, 10)}
    lines += [orjson.dumps({"op": "delete", "id": d, "version": 3}) for d in sorted(deleted)]
    bad = {"id": "i-bad", "title": "negative price", "price": -1}
    lines.append(orjson.dumps(item(1).model_dump(mode="json") | bad))  # fails validation
    for at, raw in sorted(BAD_LINES.items()):
        lines.insert(at - 1, raw.encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    live = {f"i{100_000 + i}": 3 for i in range(NEW)}
    return {k: v for k, v in live.items() if k not in deleted}, deleted


def _run(settings: Settings, path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHOPNOW_DATA_DIR": str(settings.data_dir),
        "SHOPNOW_INDEX_DIR": str(settings.index_dir),
        "SHOPNOW_MODEL_DIR": str(settings.model_dir),
        "SHOPNOW_SEARCH_BACKEND": settings.search_backend,
        "SHOPNOW_OPENSEARCH_URL": settings.opensearch_url,
        "SHOPNOW_OPENSEARCH_ALIAS": settings.opensearch_alias,
        "SHOPNOW_INGEST_BATCH": "100",  # many small bulk writes, so the kill lands among them
        "SHOPNOW_INGEST_PERSIST_S": "0.2",
    }
    cmd = [sys.executable, "-m", "engine.app.cli", "ingest", str(path), "--quiet"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_mid_bulk_then_restart(world: Settings, tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    live, deleted = _changes(path)
    checkpoint = world.ingest_path / CHECKPOINT_FILE
    proc = _run(world, path)
    deadline = time.monotonic() + 120
    while not (checkpoint.is_file() and int(checkpoint.read_text() or 0) >= 1000):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    killed_at = int(checkpoint.read_text())
    assert 1000 <= killed_at < 3 * NEW, killed_at  # mid-way: work was left to do

    again = _run(world, path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-3000:]
    report = orjson.loads(out)
    assert report["resumed_at_line"] > 0 and report["waiting_for_index"] == 0, report

    async def stored() -> tuple[int, dict[str, int]]:
        index = await backends.open_index(world)
        try:
            return await index.count(), await index.versions(sorted(live) + sorted(deleted))
        finally:
            await index.close()

    count, versions = asyncio.run(stored())
    assert versions == live  # every live item at its latest version, every deleted one gone
    assert count == 500 + len(live)  # the original catalog plus each new item once
    raw = (world.ingest_path / DEAD_LETTER_FILE).read_bytes()
    letters = [orjson.loads(x) for x in raw.splitlines()]
    reasons = {ln["source"].rsplit(":", 1)[-1]: ln["reason"] for ln in letters}
    assert {"17", "4242"} <= set(reasons), reasons
    assert any("price" in ln["reason"] for ln in letters if ln["source"].startswith("log")), letters
