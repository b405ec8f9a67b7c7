"""End-to-end latency of search and feed: in-process and over HTTP on one uvicorn worker.

Builds a synthetic marketplace (quick: 50K items; full: 1M items / 10M events), indexes it,
trains the ranker, then replays held-out logged requests through the engine.

    shopnow-bench e2e [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from engine.core.contracts import FeedRequest, SearchRequest
from engine.core.settings import Settings
from engine.offline.train import build_index, train
from engine.serving.assembly import open_engine
from synth.dataset import load_dataset
from synth.generate import generate


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "n": len(xs),
    }


def mixed_requests(settings: Settings, n: int, seed: int = 0) -> list[SearchRequest | FeedRequest]:
    """Half searches (queries of the world), half feeds; a user of the world or anonymous."""
    ds = load_dataset(settings.data_dir)
    rng = np.random.default_rng(seed)
    users = ds.users["user_ids"]
    seg = ds.users["segment"]
    out: list[SearchRequest | FeedRequest] = []
    for k in range(n):
        u = int(rng.integers(len(users)))
        user = str(users[u]) if seg[u] > 0 else None
        if k % 2:
            q = ds.queries[int(rng.integers(len(ds.queries)))]
            out.append(SearchRequest(query=q, user_id=user))
        else:
            out.append(FeedRequest(user_id=user))
    return out


async def _in_process(
    settings: Settings, reqs: list[SearchRequest | FeedRequest]
) -> dict[str, Any]:
    engine = await open_engine(settings)
    engine.spelling.wait()  # the speller's first build runs in the background: not measured
    for r in reqs[:20]:  # warm up
        await engine.rank(r)
    lat: dict[str, list[float]] = {"search": [], "feed": []}
    explained: dict[str, list[float]] = {"search": [], "feed": []}
    cands: dict[str, list[int]] = {"search": [], "feed": []}
    for r in reqs:
        t = time.perf_counter()
        resp = await engine.rank(r)
        lat[resp.surface.value].append((time.perf_counter() - t) * 1e3)
    for r in reqs[:100]:  # explain=true adds feature contributions and stage details
        t = time.perf_counter()
        resp = await engine.rank(r.model_copy(update={"explain": True}))
        explained[resp.surface.value].append((time.perf_counter() - t) * 1e3)
        assert resp.explain is not None
        cands[resp.surface.value].append(resp.explain.candidates)
    await engine.close()
    return {
        s: {
            **_pct(v),
            "candidates_mean": round(float(np.mean(cands[s])), 1),
            "explain_p50_ms": _pct(explained[s])["p50_ms"],
        }
        for s, v in lat.items()
        if v
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(settings: Settings, reqs: list[SearchRequest | FeedRequest]) -> dict[str, Any]:
    port = _free_port()
    env = {
        **os.environ,
        "SHOPNOW_DATA_DIR": str(settings.data_dir),
        "SHOPNOW_INDEX_DIR": str(settings.index_dir),
        "SHOPNOW_MODEL_DIR": str(settings.model_dir),
        "SHOPNOW_LOG_LEVEL": "WARNING",
        "SHOPNOW_SOURCE_K": json.dumps(settings.source_k),
        "SHOPNOW_MAX_CANDIDATES": str(settings.max_candidates),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            for _ in range(600):
                try:
                    ready = c.get("/readyz")
                    if ready.status_code == 200 and ready.json()["speller"]:
                        break  # the speller's background build is not measured either
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError("server did not become ready")
            lat: dict[str, list[float]] = {"search": [], "feed": []}
            t_all = time.perf_counter()
            for r in reqs:
                path = "/v1/search" if isinstance(r, SearchRequest) else "/v1/feed"
                body = r.model_dump(mode="json", exclude_none=True)
                t = time.perf_counter()
                resp = c.post(path, json=body)
                resp.raise_for_status()
                lat[path.rsplit("/", 1)[1]].append((time.perf_counter() - t) * 1e3)
            wall = time.perf_counter() - t_all
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out: dict[str, Any] = {s: _pct(v) for s, v in lat.items() if v}
    out["requests_per_s_sequential_one_worker"] = round(len(reqs) / wall, 1)
    return out


def run(
    n_items: int,
    n_events: int,
    n_requests: int,
    train_requests: int = 4000,
    workdir: Path | None = None,
    reuse: bool = False,
    skip_http: bool = False,
) -> dict[str, Any]:
    tmp = Path(workdir or tempfile.mkdtemp(prefix="shopnow-e2e-"))
    settings = Settings(
        data_dir=tmp / "data",
        index_dir=tmp / "index",
        model_dir=tmp / "models",
        feature_log_dir=tmp / "feature-log",
        source_k={
            "bm25": 3000,
            "covis": 800,
            "popular": 2000,
            "trending": 800,
            "popular_in_context": 1500,
        },
        max_candidates=3000,
    )
    t = time.perf_counter()
    if not (settings.data_dir / "events.npz").exists():
        generate(settings.data_dir, n_items=n_items, n_events=n_events, seed=0, progress=True)
    t_synth = time.perf_counter() - t
    built = (settings.index_dir / "meta.json").exists() and (
        settings.model_dir / "ranker" / "CURRENT"
    ).exists()
    t = time.perf_counter()
    if not (reuse and built):
        asyncio.run(build_index(settings))
    t_index = time.perf_counter() - t
    t = time.perf_counter()
    if not (reuse and built):
        asyncio.run(train(settings, max_requests=train_requests))
    t_train = time.perf_counter() - t
    reqs = mixed_requests(settings, n_requests)
    return {
        "items": n_items,
        "events": n_events,
        "workdir": str(tmp),
        "build_seconds": {
            "synth": round(t_synth, 1),
            "index": round(t_index, 1),
            "train": round(t_train, 1),
        },
        "reused_index_and_model": reuse and built,
        "in_process": asyncio.run(_in_process(settings, reqs)),
        "http": None if skip_http else _http(settings, reqs),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


QUICK = {"n_items": 20_000, "n_events": 200_000, "n_requests": 200, "train_requests": 1200}
FULL = {"n_items": 1_000_000, "n_events": 10_000_000, "n_requests": 2000, "train_requests": 8000}
SMOKE = {"n_items": 1000, "n_events": 12_000, "n_requests": 20, "train_requests": 300}


def run_named(
    *,
    quick: bool,
    workdir: Path | None = None,
    reuse: bool = False,
    skip_http: bool = False,
    smoke: bool = False,
) -> dict[str, Any]:
    """The quick (under a minute) or the full (1M items) configuration; ``smoke``: the smallest
    one every step runs on (for tests)."""
    c = SMOKE if smoke else QUICK if quick else FULL
    return run(
        c["n_items"],
        c["n_events"],
        c["n_requests"],
        c["train_requests"],
        workdir,
        reuse=reuse,
        skip_http=skip_http,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: keep an index and ranker already built there (skip index, train)",
    )
    ap.add_argument("--no-http", action="store_true", help="in-process figures only")
    a = ap.parse_args(argv)
    res = run_named(quick=a.quick, workdir=a.workdir, reuse=a.reuse, skip_http=a.no_http)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
