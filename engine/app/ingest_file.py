"""``shopnow ingest FILE``: a JSONL file of catalog changes through the ingest log into the
catalog, the index and every candidate source, with progress; resumable after any crash."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from engine.core.settings import Settings
from engine.serving.assembly import open_engine
from engine.serving.service import Engine
from ingest.deadletter import DeadLetters
from ingest.files import FileCursor, changes


async def ingest_file(settings: Settings, path: Path, progress: bool = True) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    engine = await open_engine(settings, warm=False)
    t0 = time.perf_counter()
    try:
        directory = settings.ingest_path
        cursor = FileCursor(directory, path)
        dead = DeadLetters(directory)
        start = cursor.get()
        replayed = engine.writes.worker.lag  # changes a crash left after the checkpoint
        await engine.writes.worker.drain()
        accepted = 0
        bodies: list[dict[str, Any]] = []
        last = start
        with tqdm(desc=f"ingest {path.name}", unit="line", disable=not progress) as bar:
            for n, body, error in changes(path, skip=start):
                last = n
                if error:
                    dead.add(f"{path}:{n}", error, body)
                else:
                    bodies.append(body)
                if len(bodies) >= settings.ingest_batch:
                    accepted += await _flush(engine, bodies, cursor, last, bar)
                    bodies = []
            accepted += await _flush(engine, bodies, cursor, last, bar)
        waiting = await engine.writes.worker.drain()
        stats = engine.writes.worker.stats
        return {
            "file": str(path),
            "resumed_at_line": start,
            "accepted": accepted,
            "applied": stats.applied,
            "stale": stats.stale,
            "dead_letters": stats.dead + dead.count,
            "waiting_for_index": waiting,
            "replayed_from_log_at_start": replayed,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    finally:
        await engine.close()


async def _flush(
    engine: Engine, bodies: list[dict[str, Any]], cursor: FileCursor, line: int, bar: tqdm[Any]
) -> int:
    if bodies:
        await engine.writes.worker.accept(bodies)
    cursor.set(line)
    while (
        engine.writes.worker.lag >= engine.settings.ingest_batch
    ):  # keep the log's backlog bounded
        if await engine.writes.worker.step() == 0:
            break
    bar.update(len(bodies))
    return len(bodies)
