"""The Redis primary killed under load, with the online store on Sentinel:
``python -m bench.redis_failover_bench [--home DIR] [--clients 4] [--rate 80] [--quick]
[--smoke] [--workdir DIR --reuse]``; prints JSON.

The engine serves the synthetic marketplace (the bench world; ``--smoke`` its smallest) with
its online store on a Redis primary, one replica and three sentinels (``devtools.redis_sentinel``;
``--home``: a running group, e.g. the test command's). ``--clients`` loops send searches, feeds
and event batches (clicks) through the HTTP API in process, ``--rate`` requests/s in all. After
``--before`` seconds the primary is SIGKILLed; the sentinels promote the replica; the load goes
on ``--after`` seconds past the store's recovery, then the killed server comes back as a
replica.

Reported per phase (before, failing over, after): requests by status (any 5xx is a failure),
answers flagged degraded, latency p50/p99/max; the recovery time (kill to the first store call
that succeeds again); the clicks acknowledged (202) and the click counters found after the
events spool drained: the difference is what the failover lost (writes the old primary had
acknowledged and not yet replicated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.figures import latency_ms
from bench.world import add_world_args, bench_world
from engine.app.api.app import create_app
from engine.core.settings import Settings
from engine.offline.train import build_index
from engine.serving.assembly import open_engine
from engine.serving.service import Engine

QUERIES = ("red dress", "wireless earbuds", "running shoes", "kitchen knife", "face cream")
PHASES = ("before", "failing_over", "after")


class Load:
    def __init__(self) -> None:
        self.rows: list[tuple[float, str, int, float, bool]] = []  # at, kind, status, s, degraded
        self.clicks: Counter[str] = Counter()  # acknowledged clicks per item
        self.marks: dict[str, float] = {}

    def phase(self, t: float) -> str:
        if t < self.marks.get("killed", float("inf")):
            return "before"
        if t < self.marks.get("recovered", float("inf")):
            return "failing_over"
        return "after"


async def _client(
    c: httpx.AsyncClient, k: int, items: list[str], load: Load, every: float, stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        t0 = time.monotonic()
        kind = ("search", "feed", "events")[n % 3]
        item = items[(k * 7919 + n) % len(items)]
        if kind == "search":
            r = await c.post("/v1/search", json={"query": QUERIES[n % len(QUERIES)]})
        elif kind == "feed":
            r = await c.post("/v1/feed", json={"user_id": f"u{k}", "session_id": f"s{k}"})
        else:
            ev = {"type": "click", "ts": "2026-01-02T00:00:00Z", "session_id": f"s{k}"}
            r = await c.post("/v1/events", json={"events": [{**ev, "item_id": item}]})
            if r.status_code == 202:
                load.clicks[item] += 1
        took = time.monotonic() - t0
        degraded = r.status_code == 200 and bool(r.json().get("degraded"))
        load.rows.append((t0, kind, r.status_code, took, degraded))
        n += 1
        await asyncio.sleep(max(0.0, every - took))


async def _recovery(engine: Engine, t_kill: float, timeout: float = 60.0) -> float:
    while time.monotonic() - t_kill < timeout:
        if await engine.store.ping():
            return time.monotonic() - t_kill
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the store did not answer within {timeout:.0f} s of the kill")


async def run(settings: Settings, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    from devtools.redis_sentinel import kill_primary, primary, start

    engine = await open_engine(settings)
    load = Load()
    items = list(engine.catalog.ids[: min(200, len(engine.catalog))])
    _, baseline = await engine.store.counts(items)  # clicks counted before this run
    app = create_app(engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
            stop = asyncio.Event()
            every = args.clients / args.rate
            tasks = [
                asyncio.create_task(_client(c, k, items, load, every, stop))
                for k in range(args.clients)
            ]
            await asyncio.sleep(args.before)
            was = primary(home)
            load.marks["killed"] = time.monotonic()
            await asyncio.to_thread(kill_primary, home)
            recovery = await _recovery(engine, load.marks["killed"])
            load.marks["recovered"] = time.monotonic()
            await asyncio.sleep(args.after)
            stop.set()
            await asyncio.gather(*tasks)
            await engine.events.drain(forever=False)
            spooled_left = engine.events.spooled
    _, found = await _counts(settings, items)
    await asyncio.to_thread(start, home, was)  # the old primary rejoins as a replica
    stored = {i: f - b for i, f, b in zip(items, found, baseline, strict=True)}
    acknowledged = sum(load.clicks.values())
    kill = load.marks["killed"]
    window = sum(
        1 for r in load.rows if r[1] == "events" and r[2] == 202 and kill - 1 <= r[0] < kill
    )
    lost = sum(max(0, load.clicks[i] - stored[i]) for i in items)
    return {
        "store": settings.redis_url,
        "killed_primary": was,
        "new_primary": primary(home),
        "recovery_s": round(recovery, 2),
        "deadline_ms": settings.request_deadline_ms,
        "phases": _phases(load),
        "clicks": {
            "acknowledged": acknowledged,
            "counted": sum(min(load.clicks[i], stored[i]) for i in items),
            "lost": lost,
            # what async replication can lose: clicks acknowledged in the second before the kill
            "loss_bound": window,
            "left_in_spool": spooled_left,
        },
    }


async def _counts(settings: Settings, items: list[str]) -> tuple[list[int], list[int]]:
    """Click counters read afresh (the engine has closed its store)."""
    from engine.serving.state.redis_store import RedisStore

    store = RedisStore(settings.redis_url, timeout_s=2.0)
    try:
        return await store.counts(items)
    finally:
        await store.close()


def _phases(load: Load) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in PHASES:
        rows = [r for r in load.rows if load.phase(r[0]) == name]
        out[name] = {
            "requests": len(rows),
            "by_status": dict(Counter(str(r[2]) for r in rows)),
            "5xx": sum(r[2] >= 500 for r in rows),
            "degraded": sum(r[4] for r in rows),
            **latency_ms([r[3] for r in rows]),
        }
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.redis_failover_bench", description=__doc__)
    p.add_argument("--home", type=Path, help="a running Sentinel group (default: start one)")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rate", type=float, default=80.0, help="requests/s over all clients")
    p.add_argument("--before", type=float, default=5.0)
    p.add_argument("--after", type=float, default=5.0)
    add_world_args(p, "the world's directory (default: a temporary one)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from devtools.redis_sentinel import down, status, up

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shopnow-redis-failover-") as tmp:
        work = args.workdir or Path(tmp) / "world"
        base, header = bench_world(work, quick=args.quick, reuse=args.reuse, smoke=args.smoke)
        home = args.home or Path(tmp) / "sentinel"
        started = args.home is None
        group = up(home) if started else status(home)
        if group is None:
            print(f"redis failover: no Sentinel group running in {home}", file=sys.stderr)
            return 2
        try:
            settings = base.model_copy(update={"online_store": "redis", "redis_url": group.url})
            asyncio.run(build_index(settings, progress=False))
            report = header | asyncio.run(run(settings, home, args))
        finally:
            if started:
                down(home)
    report["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
