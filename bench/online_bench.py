"""Online features in the online store: ``python -m bench.online_bench [--quick]
[--redis-url URL] [--stores embedded,redis]``; prints JSON.

Per store: events/s ingested the way ``POST /v1/events`` writes them (session and user lists,
decayed popularity globally and per category, item impression/click counters), in batches of
100 events over 200K items, 50K sessions and 20K users; then the reads a request makes: item
counters of 3,000 candidates in one round trip, a session's and a user's recent history, and a
category's top 500, each p50/p99 over many calls. Then the cold-start path
(``engine/serving/cold_start.py``): priors of 20,000 new items seeded (once each) into the ``new``
and
10 ``new:<root>`` scopes in batches of 500, and the ``new_arrivals`` read (a root scope's top
200 and their live counters, two round trips). Without ``--redis-url`` a local
``redis-server`` is started on a free port (and stopped after).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import numpy as np

from engine.core.online_store import Bump, Interaction, ItemCount, OnlineStore, Recorded
from engine.core.signals import KIND_WEIGHT
from engine.serving.state.embedded import EmbeddedStore
from engine.serving.state.redis_store import RedisStore

ITEMS, SESSIONS, USERS, CATEGORIES = 200_000, 50_000, 20_000, 300
BATCH = 100


def _batches(
    n_events: int, seed: int = 0
) -> list[tuple[list[Recorded], list[Bump], list[ItemCount]]]:
    rng = np.random.default_rng(seed)
    item = rng.zipf(1.3, n_events) % ITEMS
    kind = rng.choice([0, 1, 2, 3], n_events, p=[0.7, 0.2, 0.07, 0.03])  # view click cart buy
    session = rng.integers(0, SESSIONS, n_events)
    user = rng.integers(-USERS, USERS, n_events)  # negative: anonymous
    ts = 1.7e9 + np.arange(n_events) * 0.01
    out = []
    for lo in range(0, n_events, BATCH):
        sl = slice(lo, lo + BATCH)
        recs, bumps, counts = [], [], []
        for i, k, s, u, t in zip(item[sl], kind[sl], session[sl], user[sl], ts[sl], strict=True):
            iid = f"i{i}"
            if k == 0:
                counts.append(ItemCount(iid, 1, 0))
                continue
            recs.append(
                Recorded(f"s{s}", f"u{u}" if u >= 0 else None, Interaction(iid, int(k), float(t)))
            )
            w = float(KIND_WEIGHT[k])
            bumps += [
                Bump("global", iid, w, float(t)),
                Bump(f"cat:c{i % CATEGORIES}", iid, w, float(t)),
            ]
            if k == 1:
                counts.append(ItemCount(iid, 0, 1))
        out.append((recs, bumps, counts))
    return out


async def _timed(fn: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        ms.append((time.perf_counter() - t) * 1e3)
    q = np.percentile(ms, [50, 99])
    return {"p50_ms": round(float(q[0]), 3), "p99_ms": round(float(q[1]), 3), "calls": n}


async def _measure(store: OnlineStore, n_events: int, reads: int) -> dict[str, Any]:
    batches = _batches(n_events)
    t = time.perf_counter()
    for recs, bumps, counts in batches:
        await store.record(recs)
        await store.bump(bumps)
        await store.count(counts)
    seconds = time.perf_counter() - t
    rng = np.random.default_rng(1)
    candidates = [[f"i{i}" for i in rng.choice(ITEMS, 3000, replace=False)] for _ in range(8)]
    k = iter(range(10**9))
    out: dict[str, Any] = {
        "events": n_events,
        "events_per_s": round(n_events / seconds),
        "batch": BATCH,
        "counters_3000": await _timed(lambda: store.counts(candidates[next(k) % 8]), reads),
        "session_50": await _timed(lambda: store.session(f"s{next(k) % SESSIONS}", 50), reads),
        "user_50": await _timed(lambda: store.user(f"u{next(k) % USERS}", 50), reads),
        "category_top_500": await _timed(
            lambda: store.top(f"cat:c{next(k) % CATEGORIES}", 500, 1.7e9 + n_events * 0.01), reads
        ),
    }
    out["cold_start"] = await _cold_start(store, reads, 1.7e9 + n_events * 0.01)
    return out


async def _cold_start(store: OnlineStore, reads: int, now: float) -> dict[str, Any]:
    n, batch, roots = 20_000, 500, 10
    t = time.perf_counter()
    for lo in range(0, n, batch):
        seeds = []
        for i in range(lo, lo + batch):
            ts = now - (n - i)  # one new item a second
            seeds += [Bump("new", f"n{i}", 1.0, ts), Bump(f"new:r{i % roots}", f"n{i}", 1.0, ts)]
        await store.bump(seeds, only_new=True)
    seconds = time.perf_counter() - t
    k = iter(range(10**9))

    async def read() -> None:
        top = await store.top(f"new:r{next(k) % roots}", 200, now)
        await store.counts([item for item, _ in top])

    return {
        "priors_seeded_per_s": round(n / seconds),
        "new_arrivals_read_200": await _timed(read, reads),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _redis(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found: install it (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def run(
    *, quick: bool, stores: Sequence[str], redis_url: str | None, smoke: bool = False
) -> dict[str, Any]:
    """``smoke``: 2,000 events and 30 reads (for tests)."""
    n_events, reads = (2000, 30) if smoke else (50_000, 300) if quick else (1_000_000, 3000)
    out: dict[str, Any] = {"quick": quick, "stores": {}}
    with _redis(redis_url if "redis" in stores else "unused") as url:
        for name in stores:
            store: OnlineStore = (
                EmbeddedStore()
                if name == "embedded"
                else RedisStore(url, prefix=f"bench{int(time.time())}", timeout_s=2.0)
            )

            async def go(s: OnlineStore = store) -> dict[str, Any]:
                try:
                    return await _measure(s, n_events, reads)
                finally:
                    await s.close()

            out["stores"][name] = asyncio.run(go())
            print(name, json.dumps(out["stores"][name]), file=sys.stderr)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--redis-url", help="a running Redis; default: start a local redis-server")
    ap.add_argument("--stores", default="embedded,redis")
    args = ap.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    print(json.dumps(run(quick=args.quick, stores=stores, redis_url=args.redis_url), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
