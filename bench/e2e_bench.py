"""End-to-end latency of search and feed: in-process and over HTTP on one uvicorn worker.

Builds a synthetic marketplace (quick: 20K items; full: 1M items / 10M events), indexes it,
trains the ranker, then replays held-out logged requests through the engine. In-process, each
surface reports wall time per request and CPU time per request (the process's CPU seconds,
every thread, over the replay), with the load average before and after.

    shopnow-bench e2e [--quick]
    python -m bench.e2e_bench --workdir DIR [--reuse] [--no-http] [--profile SVG] [--ranked F]
        [--warm]

``--warm``: every request is replayed once, untimed, before the timed pass, so the figures are
those of a server that has run a while (the lexical source has learnt its row map, caches are
full); without it, 20 requests warm up and the rest meet a cold start. ``--profile SVG``: a
py-spy flame graph of the in-process replay alone, run a second time after the timed one
(sampled from outside the process). ``--ranked F``: every in-process response's ranked ids and
scores as JSON lines, to compare two versions of the code on the same replay (``python -m
bench.e2e_bench --compare A B``; the requests carry the wall clock's time, so item ages move
between runs: compare runs made one after the other).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
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
from engine.serving.assembly import freeze_heap, open_engine
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


def _py_spy(svg: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling this process until :func:`_stop` (written to ``svg`` then)."""
    exe = Path(sys.executable).with_name("py-spy")
    cmd = [str(exe) if exe.exists() else "py-spy", "record", "--pid", str(os.getpid())]
    # Python frames only, sampled without stopping the process: native unwinding (--native)
    # stopped the server for most of each second at 1M items. Time inside a native call
    # (tantivy, the compiled ranker, numpy) shows as the Python line that made it.
    cmd += ["--rate", "200", "--nonblocking", "--format", "flamegraph", "-o", str(svg)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attached before the replay starts
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")


async def _in_process(
    settings: Settings,
    reqs: list[SearchRequest | FeedRequest],
    profile: Path | None = None,
    ranked: Path | None = None,
    warm: bool = False,
) -> dict[str, Any]:
    engine = await open_engine(settings)
    engine.spelling.wait()  # the speller's first build runs in the background: not measured
    freeze_heap()  # as `shopnow serve` does once the engine is open
    for r in reqs if warm else reqs[:20]:  # warm up
        await engine.rank(r)
    lat: dict[str, list[float]] = {"search": [], "feed": []}
    cpu: dict[str, list[float]] = {"search": [], "feed": []}
    explained: dict[str, list[float]] = {"search": [], "feed": []}
    cands: dict[str, list[int]] = {"search": [], "feed": []}
    stages: dict[str, dict[str, list[float]]] = {"search": {}, "feed": {}}
    lists: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    for r in reqs:
        c, t = time.process_time(), time.perf_counter()
        resp = await engine.rank(r)
        lat[resp.surface.value].append((time.perf_counter() - t) * 1e3)
        cpu[resp.surface.value].append((time.process_time() - c) * 1e3)
        if ranked is not None:
            lists.append(
                {
                    "ids": [i.id for i in resp.items],
                    "scores": [i.score for i in resp.items],
                    "degraded": resp.degraded_reasons,
                }
            )
    load_after = os.getloadavg()
    if profile is not None:  # the same replay again, sampled (sampling slows what it samples)
        spy = _py_spy(profile)
        for r in reqs:
            await engine.rank(r)
        _stop(spy)
    if ranked is not None:
        ranked.write_text("".join(json.dumps(x) + "\n" for x in lists))
    for r in reqs[:100]:  # explain=true adds feature contributions and stage details
        t = time.perf_counter()
        resp = await engine.rank(r.model_copy(update={"explain": True}))
        explained[resp.surface.value].append((time.perf_counter() - t) * 1e3)
        assert resp.explain is not None
        cands[resp.surface.value].append(resp.explain.candidates)
        for st in resp.explain.stages:
            stages[resp.surface.value].setdefault(st.stage, []).append(st.ms)
    await engine.close()
    out: dict[str, Any] = {
        s: {
            **_pct(v),
            "cpu_ms_mean": round(float(np.mean(cpu[s])), 3),
            "candidates_mean": round(float(np.mean(cands[s])), 1),
            "explain_p50_ms": _pct(explained[s])["p50_ms"],
            # the explained requests' stage timings (sources run concurrently: they overlap)
            "stage_ms_mean": {k: round(float(np.mean(x)), 3) for k, x in stages[s].items()},
        }
        for s, v in lat.items()
        if v
    }
    out["load_average"] = {"before": load_before, "after": load_after}
    return out


def compare(a: Path, b: Path) -> dict[str, Any]:
    """Two ``--ranked`` files of one replay: how many responses were degraded in either (not
    compared), how many of the others differ in their ids, and the largest score difference
    among those that do not."""
    rows_a = [json.loads(x) for x in a.read_text().splitlines()]
    rows_b = [json.loads(x) for x in b.read_text().splitlines()]
    if len(rows_a) != len(rows_b):
        raise ValueError(f"{a} has {len(rows_a)} responses, {b} has {len(rows_b)}")
    # a response degraded in either replay (a source past its deadline) is not comparable
    degraded = [
        i
        for i, (x, y) in enumerate(zip(rows_a, rows_b, strict=True))
        if x.get("degraded") or y.get("degraded")
    ]
    skip = set(degraded)
    differ = [
        i
        for i, (x, y) in enumerate(zip(rows_a, rows_b, strict=True))
        if i not in skip and x["ids"] != y["ids"]
    ]
    differing = set(differ) | skip
    same = [i for i in range(len(rows_a)) if i not in differing]
    worst = max(
        (
            abs(p - q)
            for i in same
            for p, q in zip(rows_a[i]["scores"], rows_b[i]["scores"], strict=True)
        ),
        default=0.0,
    )
    return {
        "responses": len(rows_a),
        "degraded": len(degraded),
        "first_degraded": degraded[:10],
        "ids_differ": len(differ),
        "first_differing": differ[:10],
        "max_score_diff": worst,
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
    profile: Path | None = None,
    ranked: Path | None = None,
    warm: bool = False,
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
        "warm": warm,
        "in_process": asyncio.run(_in_process(settings, reqs, profile, ranked, warm)),
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
    profile: Path | None = None,
    ranked: Path | None = None,
    warm: bool = False,
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
        profile=profile,
        ranked=ranked,
        warm=warm,
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
    ap.add_argument("--profile", type=Path, help="py-spy flame graph (SVG) of the replay")
    ap.add_argument("--ranked", type=Path, help="write each response's ids and scores (JSONL)")
    ap.add_argument(
        "--warm",
        action="store_true",
        help="replay every request once, untimed, before the timed pass: a server that has "
        "run a while (the lexical source's row map learnt, caches full), not one just started",
    )
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="two --ranked files")
    a = ap.parse_args(argv)
    if a.compare:
        print(json.dumps(compare(*a.compare), indent=2))
        return 0
    res = run_named(
        quick=a.quick,
        workdir=a.workdir,
        reuse=a.reuse,
        skip_http=a.no_http,
        profile=a.profile,
        ranked=a.ranked,
        warm=a.warm,
    )
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
