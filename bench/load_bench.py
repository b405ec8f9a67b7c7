"""Throughput and latency of the HTTP API under a real load generator, at 1, 2, ... worker
processes: ``python -m bench.load_bench [--workers 1,2] [--quick | --smoke] [--reuse]
[--workdir DIR] [--backend embedded|opensearch --opensearch-url URL] [--plot PNG]``; prints
JSON.

The world is the demo's (synthesised, two towers, graph, index, LambdaMART ranker: what
``make demo`` serves), built once per work directory. For each worker count, ``shopnow serve
--workers N`` runs on it with Redis as the online store (a ``redis-server`` the benchmark
starts), and vegeta (devtools/vegeta.py) sends a mix of half searches (the world's queries) and
half feeds (known and anonymous users), all on loopback:

1. **closed loop** at increasing concurrency (``-rate=0`` with that many workers): the
   saturation throughput (the most answered per second), and the *knee*, the lowest
   concurrency that reaches 90% of it;
2. **open loop** at 50%, 80% and 100% of the saturation rate: p50/p99 per surface at a load
   that does not wait for answers, so queueing shows in the latencies.

*Within budget*: the most answers per second of any run (either loop) whose p99 on both
surfaces stays within ``--budget-ms`` (150, the product's end-to-end budget) without an error;
its ratio between worker counts is the scaling at equal p99.

Every request counts: an answer other than 200 is an error, reported with its status. The
machine's cores and load average are printed beside the figures; the load generator runs on
the same cores as the server, as it would not in production: the figures are a floor.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bench.e2e_bench import mixed_requests
from bench.figures import budget_run, latency_ms
from bench.serving import served
from bench.world import add_world_args
from devtools import vegeta
from devtools.opensearch_node.process import free_port
from engine.core.contracts import SearchRequest
from engine.core.settings import Settings

SURFACES = {"/v1/search": "search", "/v1/feed": "feed"}
FRACTIONS = (0.5, 0.8, 1.0)
KNEE = 0.9  # the knee: the lowest concurrency reaching this share of the saturation


# (seconds per closed-loop level, concurrency levels, seconds per open-loop run)
PLANS = {
    "full": (10, (1, 2, 4, 8, 16, 32), 15),
    "quick": (5, (1, 4, 16), 8),
    "smoke": (2, (1, 4), 2),
}


def _world(args: argparse.Namespace, work: Path) -> tuple[Settings, dict[str, Any]]:
    """The demo's world under ``work`` (built unless ``--reuse`` finds it complete)."""
    items, events = (
        (1200, 15_000) if args.smoke else (5_000, 80_000) if args.quick else (50_000, 500_000)
    )
    settings = Settings(
        data_dir=work / "data",
        index_dir=work / "index",
        model_dir=work / "models",
        feature_log_dir=work / "feature-log",
        search_backend=args.backend,
        opensearch_url=args.opensearch_url or Settings().opensearch_url,
        opensearch_alias=f"shopnow-load-{items}",
    )
    done = work / "world.complete"
    if not (args.reuse and done.is_file()):
        from engine.app.demo import demo

        with contextlib.redirect_stdout(sys.stderr):  # stdout is the report's
            demo(settings, items=items, events=events, host="", port=0, serve=False)
        done.write_text("")
    return settings, {"items": items, "events": events}


def targets(settings: Settings, url: str, n: int) -> bytes:
    """vegeta's JSON targets: ``n`` requests, half searches and half feeds."""
    lines = []
    for req in mixed_requests(settings, n):
        path = "/v1/search" if isinstance(req, SearchRequest) else "/v1/feed"
        body = req.model_dump_json(exclude_defaults=True).encode()
        lines.append(
            orjson.dumps(
                {
                    "method": "POST",
                    "url": url + path,
                    "body": base64.b64encode(body).decode(),
                    "header": {"Content-Type": ["application/json"]},
                }
            )
        )
    return b"\n".join(lines) + b"\n"


def summary(results: Sequence[vegeta.Result]) -> dict[str, Any]:
    """Throughput (answered 200 per second over the attack) and, per surface, latencies of the
    200s and the count of everything else by status (0: no answer)."""
    if not results:
        return {"requests": 0, "throughput_rps": 0.0}
    start = min(r.at_s for r in results)
    span = max(r.at_s + r.latency_s for r in results) - start
    ok = [r for r in results if r.code == 200]
    out: dict[str, Any] = {
        "requests": len(results),
        "throughput_rps": round(len(ok) / span, 1) if span > 0 else 0.0,
    }
    for path, surface in SURFACES.items():
        mine = [r for r in results if r.url.endswith(path)]
        bad: dict[str, int] = {}
        for r in mine:
            if r.code != 200:
                bad[str(r.code)] = bad.get(str(r.code), 0) + 1
        good = [r.latency_s for r in mine if r.code == 200]
        out[surface] = latency_ms(good) | {"n": len(mine), "errors": bad}
    return out


def attack(
    binary: Path,
    target_file: Path,
    seconds: float,
    *,
    rate: int | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """One attack: at ``rate`` per second (open loop), or with ``concurrency`` workers each
    waiting for its answer (closed loop)."""
    cmd = [str(binary), "attack", "-format=json", f"-targets={target_file}"]
    cmd += [f"-duration={seconds}s", "-timeout=10s", "-keepalive=true"]
    if rate is not None:
        cmd += [f"-rate={rate}/s"]
    else:
        cmd += ["-rate=0", f"-max-workers={concurrency}", f"-workers={concurrency}"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return summary(vegeta.results(binary, raw))


@contextmanager
def redis_server(work: Path) -> Iterator[str]:
    """A ``redis-server`` of the benchmark's own (no persistence); its URL."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def within_budget(points: Sequence[dict[str, Any]], budget_ms: float) -> float:
    """The most answers per second of the runs whose p99 on both surfaces is within
    ``budget_ms``, with no errors (0.0: none; :func:`bench.figures.budget_run`)."""
    run = budget_run(points, budget_ms, SURFACES.values())
    return 0.0 if run is None else float(run["throughput_rps"])


def one_size(
    settings: Settings,
    workers: int,
    redis_url: str,
    work: Path,
    plan: tuple[int, tuple[int, ...], int],
    binary: Path,
    budget_ms: float,
) -> dict[str, Any]:
    """The closed-loop sweep and the open-loop runs against ``workers`` processes."""
    level_s, levels, open_s = plan
    env = {"SHOPNOW_ONLINE_STORE": "redis", "SHOPNOW_REDIS_URL": redis_url}
    if settings.search_backend == "opensearch":
        env |= {
            "SHOPNOW_SEARCH_BACKEND": "opensearch",
            "SHOPNOW_OPENSEARCH_URL": settings.opensearch_url,
            "SHOPNOW_OPENSEARCH_ALIAS": settings.opensearch_alias,
        }
    port = free_port()
    with served(settings, port, env, work / f"serve-{workers}.log", workers) as url:
        target_file = work / "targets.json"
        target_file.write_bytes(targets(settings, url, 2000))
        attack(binary, target_file, 3, rate=20)  # warm up: caches, connections
        sweep = []
        for c in levels:
            got = attack(binary, target_file, level_s, concurrency=c)
            sweep.append({"concurrency": c} | got)
            print(
                f"  workers {workers}, concurrency {c}: {got['throughput_rps']} /s", file=sys.stderr
            )
        saturation = max(s["throughput_rps"] for s in sweep)
        knee = next(s["concurrency"] for s in sweep if s["throughput_rps"] >= KNEE * saturation)
        load = []
        for fraction in FRACTIONS:
            rate = max(1, round(fraction * saturation))
            got = attack(binary, target_file, open_s, rate=rate)
            load.append({"fraction": fraction, "offered_rps": rate} | got)
            print(
                f"  workers {workers}, {fraction:.0%} ({rate}/s): {got['throughput_rps']} /s",
                file=sys.stderr,
            )
    return {
        "within_budget_rps": within_budget(load + sweep, budget_ms),
        "saturation_rps": saturation,
        "per_core_rps": round(saturation / min(workers, os.cpu_count() or 1), 1),
        "knee_concurrency": knee,
        "sweep": sweep,
        "load": load,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    settings, header = _world(args, work)
    binary = vegeta.ensure()
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    sizes: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    with redis_server(work) as redis_url:
        for w in args.workers:
            sizes[str(w)] = one_size(settings, w, redis_url, work, plan, binary, args.budget_ms)
    report: dict[str, Any] = header | {
        "backend": settings.search_backend,
        "online_store": "redis",
        "cores": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "generator": f"vegeta {vegeta.VERSION}, on the same machine",
        "p99_budget_ms": args.budget_ms,
        "workers": sizes,
    }
    one = sizes.get("1")
    if one and one["saturation_rps"] > 0:
        report["scaling"] = {
            w: round(s["saturation_rps"] / one["saturation_rps"], 2) for w, s in sizes.items()
        }
    if one and one["within_budget_rps"] > 0:  # throughput at the same p99 bound
        report["scaling_within_budget"] = {
            w: round(s["within_budget_rps"] / one["within_budget_rps"], 2) for w, s in sizes.items()
        }
    return report


def plot(report: dict[str, Any], path: Path) -> None:
    """Throughput against concurrency, and p99 per surface against the offered load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for w, size in report["workers"].items():
        xs = [s["concurrency"] for s in size["sweep"]]
        left.plot(xs, [s["throughput_rps"] for s in size["sweep"]], "o-", label=f"{w} worker(s)")
        offered = [p["offered_rps"] for p in size["load"]]
        for surface, style in (("search", "o-"), ("feed", "s--")):
            p99 = [p[surface]["p99_ms"] for p in size["load"]]
            right.plot(offered, p99, style, label=f"{surface}, {w} worker(s)")
    left.set(xscale="log", xlabel="concurrent clients (closed loop)", ylabel="answers / s")
    left.set_title("throughput")
    budget = report.get("p99_budget_ms")
    if budget:
        right.axhline(budget, color="grey", linestyle=":", label=f"budget {budget:.0f} ms")
    right.set(xlabel="offered load, requests / s (open loop)", ylabel="p99 latency, ms")
    right.set_yscale("log")
    right.set_title("p99 at 50%, 80% and 100% of saturation")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{report['items']:,} items, {report['backend']} backend, {report['cores']} cores "
        f"(load generator on the same cores)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(report: dict[str, Any]) -> str:
    """The report as Markdown: one row per run."""
    lines = [
        "| workers | run | answers/s | search p50 / p99 ms | feed p50 / p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for w, size in report["workers"].items():
        runs = [(f"{p['concurrency']} clients", p) for p in size["sweep"]]
        runs += [(f"{p['fraction']:.0%}: {p['offered_rps']}/s offered", p) for p in size["load"]]
        for name, p in runs:
            errors = sum(sum(p[s]["errors"].values()) for s in SURFACES.values())
            lines.append(
                f"| {w} | {name} | {p['throughput_rps']} | {p['search']['p50_ms']} / "
                f"{p['search']['p99_ms']} | {p['feed']['p50_ms']} / {p['feed']['p99_ms']} | "
                f"{errors} |"
            )
    lines += ["", "| workers | saturation /s | per core /s | knee (clients) | within budget /s |"]
    lines += ["|---|---|---|---|---|"]
    for w, size in report["workers"].items():
        lines.append(
            f"| {w} | {size['saturation_rps']} | {size['per_core_rps']} | "
            f"{size['knee_concurrency']} | {size['within_budget_rps']} |"
        )
    return "\n".join(lines) + "\n"


def _workers(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts separated by commas") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts are 1 or more")
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.load_bench", description=__doc__)
    p.add_argument("--workers", type=_workers, default=[1, 2], help="e.g. 1,2,4 (default 1,2)")
    p.add_argument("--backend", choices=["embedded", "opensearch"], default="embedded")
    p.add_argument("--opensearch-url", help="the cluster (with --backend opensearch)")
    p.add_argument(
        "--budget-ms",
        type=float,
        default=150.0,
        help="p99 bound of the within-budget throughput (default 150, the product's budget)",
    )
    p.add_argument("--plot", type=Path, help="write the throughput and latency plot here")
    p.add_argument("--output", type=Path, help="write the report (JSON) here too")
    p.add_argument("--markdown", type=Path, help="write the report's tables (Markdown) here")
    add_world_args(p, "where the world lives (temporary unless given)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.backend == "opensearch" and not args.opensearch_url:
        print("--backend opensearch needs --opensearch-url", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shopnow-load-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report = run(args, work)
    report["seconds"] = round(time.monotonic() - t0, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    if args.plot:
        plot(report, args.plot)
    if args.markdown:
        args.markdown.write_text(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
