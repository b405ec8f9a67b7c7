"""How long a merchandising rule saved through one API replica takes to be live on every
replica: ``python -m bench.rules_propagation_bench [--replicas 2] [--rounds 20]
[--control-url URL] [--quick] [--smoke]``; prints JSON.

Each replica is a real ``shopnow serve`` process with a copy of the synthetic world of its own
(data, index, models: as separate machines have), all sharing one PostgreSQL control database
(``SHOPNOW_CONTROL_URL``; without ``--control-url`` a server is started for the run). Each
round waits a random part of the poll period, saves a new rule through the next replica in
turn (``PUT /v1/rules/{id}``, a pin for a query of its own) and then asks every replica's
search, every 20 ms, until its ``explain`` names the rule. Reported: the time from the save's
answer to the rule being live, per replica and over all (p50, p99, max), with the replicas'
poll period (``SHOPNOW_RULES_POLL_S``).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.figures import latency_ms
from bench.node import node_home
from bench.serving import served
from bench.world import add_world_args, bench_world
from engine.core.settings import Settings
from engine.serving.assembly import load_catalog

ADMIN = "bench-admin-key-0123456789abcdef"
SECRET = "bench-key-secret-0123456789abcdef!"


def _copy(settings: Settings, root: Path) -> Settings:
    """The world under ``root``: a replica's own disk."""
    out = settings.model_copy(
        update={
            "data_dir": root / "data",
            "index_dir": root / "index",
            "model_dir": root / "models",
            "feature_log_dir": root / "feature-log",
        }
    )
    for src, dst in ((settings.data_dir, out.data_dir), (settings.index_dir, out.index_dir)):
        shutil.copytree(src, dst)
    if settings.model_dir.exists():
        shutil.copytree(settings.model_dir, out.model_dir)
    return out


AUTH = {"Authorization": f"Bearer {ADMIN}"}


def _live(url: str, query: str, rule_id: str) -> bool:
    body = {"query": query, "explain": True}
    got = httpx.post(f"{url}/v1/search", json=body, headers=AUTH, timeout=5)
    got.raise_for_status()
    rules = (got.json().get("explain") or {}).get("rules", [])
    return any(rule_id in r for r in rules)


def rounds(
    urls: list[str], n: int, item: str, poll_s: float, timeout: float = 30.0
) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {u: [] for u in urls}
    tag = f"{int(time.time())}"
    rng = random.Random(0)
    for k in range(n):
        # a round starts just after the slowest replica's poll found the last rule: without a
        # random pause, every save would land at the same point of the replicas' poll cycle
        time.sleep(rng.uniform(0, poll_s))
        rule_id, query = f"prop-{tag}-{k}", f"probe{tag}x{k}"
        rule = {
            "name": f"propagation round {k}",
            "match": {"query": {"kind": "contains", "value": query}},
            "actions": {"pins": [{"item_id": item, "position": 1}]},
        }
        put = httpx.put(f"{urls[k % len(urls)]}/v1/rules/{rule_id}", json=rule, headers=AUTH)
        put.raise_for_status()
        t0 = time.monotonic()
        waiting = set(urls)
        while waiting:
            for u in sorted(waiting):
                if _live(u, query, rule_id):
                    seen[u].append(time.monotonic() - t0)
                    waiting.discard(u)
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"rule {rule_id} not live on {sorted(waiting)} in {timeout} s")
            time.sleep(0.02)
    return seen


def run(args: argparse.Namespace, work: Path, control_url: str) -> dict[str, Any]:
    base, header = bench_world(work / "world", quick=args.quick, reuse=args.reuse, smoke=args.smoke)
    if not base.index_dir.exists():
        import asyncio

        from engine.offline.train import build_index

        asyncio.run(build_index(base, progress=False))
    item = load_catalog(base).ids[0]
    env = {
        "SHOPNOW_CONTROL_URL": control_url,
        "SHOPNOW_KEY_SECRET": SECRET,
        "SHOPNOW_ADMIN_KEY": ADMIN,
        "SHOPNOW_RULES_POLL_S": str(args.poll_s),
    }
    from devtools.opensearch_node.process import free_ports

    ports = free_ports(args.replicas)
    with ExitStack() as stack:
        urls = [
            stack.enter_context(
                served(_copy(base, work / f"replica-{i}"), p, env, work / f"replica-{i}.log")
            )
            for i, p in enumerate(ports)
        ]
        seen = rounds(urls, args.rounds, item, args.poll_s)
    every = [s for v in seen.values() for s in v]
    return header | {
        "replicas": args.replicas,
        "rounds": args.rounds,
        "poll_s": args.poll_s,
        "propagation": latency_ms(every, 0) | {"n": len(every)},
        "per_replica": {f"replica-{i}": latency_ms(v, 0) for i, v in enumerate(seen.values())},
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.rules_propagation_bench", description=__doc__)
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument(
        "--poll-s", type=float, default=Settings().rules_poll_s, help="the replicas' rules poll"
    )
    p.add_argument("--control-url", help="a PostgreSQL database (default: start a server)")
    add_world_args(p, "where the world and replicas live (temporary)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shopnow-rules-prop-") as tmp:
        work = args.workdir or Path(tmp)
        for old in work.glob("replica-*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        if args.control_url:
            report = run(args, work, args.control_url)
        else:
            from devtools.postgres_server import down, up

            with node_home("shopnow-bench-pg-") as home:
                try:
                    report = run(args, work, up(home).url)
                finally:
                    down(home)
    report["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
