"""One node of a local OpenSearch cluster killed under load: ``python -m bench.failover_bench
[--home DIR] [--nodes 3] [--kill-node 2] [--clients 4] [--rate 100] [--quick] [--plot]``;
prints JSON.

An index of ``--docs`` items (3 primary shards, 1 replica) behind the serving backend
(:class:`~search_plugins.opensearch.OpenSearchIndex`, every node's address in its client) takes
``--clients`` loops of searches (lexical and kNN in turn, ``--rate`` requests/s in all, each
with the serving deadline) and one writer adding ``--write-rate`` new items/s. After
``--before`` seconds, node ``--kill-node`` is SIGKILLed (as a machine dies); ``--down``
seconds later it is started again on its data, and the load goes on until the cluster is green
and ``--after`` seconds more. Then every write the index acknowledged is read back.

Reported per phase (before, down, rejoining, after): requests, failed (an error, or no answer
within the deadline: ``late`` and ``errors`` apart), degraded (answered with shards missing),
latency p50/p99/max, after ``--warmup`` seconds of load that are not counted; writes
acknowledged and lost; how long the cluster took to drop the node, and to be green again after
the restart. With ``--home`` the cluster of that home is used (e.g. the test command's);
otherwise one is started for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.figures import latency_ms
from bench.node import node_home
from engine.core.search import IndexDoc, IndexUnavailable
from engine.core.settings import Settings
from search_plugins.opensearch import OpenSearchIndex, OpenSearchParams
from search_plugins.opensearch.client import drop_alias

DIM = 16
WORDS = tuple(
    [
        "wireless",
        "headphones",
        "laptop",
        "bag",
        "usb",
        "hub",
        "monitor",
        "stand",
        "phone",
        "case",
        "camera",
        "tripod",
        "keyboard",
        "mouse",
        "pad",
        "charger",
        "cable",
        "speaker",
        "battery",
        "tablet",
        "printer",
        "toner",
        "drive",
        "memory",
        "card",
    ]
)
PHASES = ("before", "down", "rejoining", "after")


@dataclass(slots=True)
class Log:
    """Every request's (start, latency s, outcome) and the phase boundaries (monotonic)."""

    requests: list[tuple[float, float, str]] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)
    write_failures: list[str] = field(default_factory=list)

    def phase(self, t: float) -> str:
        if t < self.marks.get("measuring", float("inf")):
            return "warmup"
        if t < self.marks.get("killed", float("inf")):
            return "before"
        if t < self.marks.get("restarting", float("inf")):
            return "down"
        if t < self.marks.get("green", float("inf")):
            return "rejoining"
        return "after"


def _doc(i: int, rng: np.random.Generator) -> IndexDoc:
    title = " ".join(rng.choice(WORDS, size=4))
    vec = rng.normal(size=DIM).astype(np.float32)
    return IndexDoc(
        id=f"f{i}",
        version=1,
        text=title,
        category="Electronics",
        brand=str(rng.choice(("acme", "zeta", "nova"))),
        seller_id="s1",
        price=float(rng.uniform(5, 500)),
        in_stock=True,
        created_at=1.7e9,
        vector=vec / np.linalg.norm(vec),
    )


async def _searcher(index: OpenSearchIndex, log: Log, k: int, every: float, stop: Any) -> None:
    rng = np.random.default_rng(k)
    n = 0
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if n % 2:
                hits = await index.vector(rng.normal(size=DIM).astype(np.float32), 50)
            else:
                hits = await index.lexical(" ".join(rng.choice(WORDS, size=2)), 50)
            outcome = "degraded" if hits.missing else "ok"
        except IndexUnavailable as exc:
            outcome = "late" if "timed out" in str(exc).lower() else f"error: {exc}"[:160]
        except Exception as exc:  # every failure counts, whatever its kind
            outcome = f"error: {type(exc).__name__}: {exc}"[:160]
        took = time.monotonic() - t0
        if took > index.params.search_timeout_s and outcome in ("ok", "degraded"):
            outcome = "late"
        log.requests.append((t0, took, outcome))
        n += 1
        await asyncio.sleep(max(0.0, every - took))


async def _writer(index: OpenSearchIndex, log: Log, every: float, start: int, stop: Any) -> None:
    rng = np.random.default_rng(99)
    i = start
    while not stop.is_set():
        t0 = time.monotonic()
        batch = [_doc(j, rng) for j in range(i, i + 5)]
        i += 5
        try:
            rep = await index.upsert(batch)
            log.acknowledged += [d.id for d in batch if d.id not in rep.failed]
            log.write_failures += list(rep.failed)
        except Exception:  # not acknowledged: the writer would send them again
            log.write_failures += [d.id for d in batch]
        await asyncio.sleep(max(0.0, every * 5 - (time.monotonic() - t0)))


async def _health(index: OpenSearchIndex, **params: str) -> dict[str, Any]:
    got: dict[str, Any] = await index.client.cluster.health(params=params)
    return got


async def _wait(index: OpenSearchIndex, what: str, ok: Any, timeout: float) -> float:
    """Seconds until ``ok(health)``; raises after ``timeout``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if ok(await _health(index)):
                return time.monotonic() - t0
        except Exception:  # a node being lost may fail one health call
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the cluster did not {what} within {timeout:.0f} s")


async def run_load(home: Path, urls: str, args: argparse.Namespace) -> dict[str, Any]:
    from devtools.opensearch_node import kill_node, start_node

    deadline_s = args.deadline_ms / 1e3
    params = OpenSearchParams(
        alias=f"failover-{uuid.uuid4().hex[:10]}",
        shards=3,
        replicas="1",
        search_timeout_s=deadline_s,
        bulk_retries=6,
    )
    index = await OpenSearchIndex.create(urls, DIM, params)
    log = Log()
    try:
        rng = np.random.default_rng(0)
        for s in range(0, args.docs, 1000):
            await index.upsert([_doc(i, rng) for i in range(s, min(s + 1000, args.docs))])
        await index.refresh()
        nodes = int((await _health(index))["number_of_nodes"])
        await _wait(index, "turn green", lambda h: h["status"] == "green", 120)
        stop = asyncio.Event()
        every = args.clients / args.rate
        tasks = [
            asyncio.create_task(_searcher(index, log, k, every, stop)) for k in range(args.clients)
        ]
        tasks.append(asyncio.create_task(_writer(index, log, 1 / args.write_rate, args.docs, stop)))
        await asyncio.sleep(args.warmup)
        log.marks["measuring"] = time.monotonic()
        await asyncio.sleep(args.before)
        log.marks["killed"] = time.monotonic()
        await asyncio.to_thread(kill_node, home, args.kill_node)
        left = await _wait(index, "drop the node", lambda h: h["number_of_nodes"] < nodes, 120)
        await asyncio.sleep(max(0.0, args.down - left))
        log.marks["restarting"] = time.monotonic()
        await asyncio.to_thread(start_node, home, args.kill_node)
        rejoined = time.monotonic() - log.marks["restarting"]
        green = await _wait(index, "turn green", lambda h: h["status"] == "green", 300)
        log.marks["green"] = time.monotonic()
        await asyncio.sleep(args.after)
        stop.set()
        await asyncio.gather(*tasks)
        await index.refresh()
        found = await index.versions(log.acknowledged)
        lost = [i for i in log.acknowledged if i not in found]
        return {
            "nodes": nodes,
            "killed_node": args.kill_node,
            "deadline_ms": args.deadline_ms,
            "node_left_s": round(left, 2),
            "restart_to_rejoined_s": round(rejoined, 2),
            "rejoined_to_green_s": round(green, 2),
            "phases": _phases(log),
            "writes": {
                "acknowledged": len(log.acknowledged),
                "lost": len(lost),
                "lost_ids": lost[:10],
                "not_acknowledged": len(log.write_failures),
            },
            "count_after": await index.count(),
        }
    finally:
        await index.close()
        await drop_alias(urls, params.alias)


def _phases(log: Log) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in PHASES:
        rows = [r for r in log.requests if log.phase(r[0]) == name]
        errors: dict[str, int] = {}
        for r in rows:
            if r[2].startswith("error"):
                errors[r[2]] = errors.get(r[2], 0) + 1
        late = sum(r[2] == "late" for r in rows)
        out[name] = {
            "requests": len(rows),
            "failed": sum(errors.values()) + late,
            "late": late,
            "errors": errors,
            "degraded": sum(r[2] == "degraded" for r in rows),
            **latency_ms([r[1] for r in rows], 2),
        }
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.failover_bench", description=__doc__)
    p.add_argument("--home", type=Path, help="a running local cluster's home (default: start one)")
    p.add_argument("--nodes", type=int, default=3, help="members of the cluster started")
    p.add_argument("--kill-node", type=int, default=2, help="which member is killed")
    p.add_argument("--docs", type=int, default=20_000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rate", type=float, default=100.0, help="searches/s over all clients")
    p.add_argument("--write-rate", type=float, default=50.0, help="new items/s")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load not measured")
    p.add_argument("--before", type=float, default=10.0, help="seconds of load before the kill")
    p.add_argument("--down", type=float, default=15.0, help="seconds the node stays down")
    p.add_argument("--after", type=float, default=10.0, help="seconds of load once green")
    p.add_argument(
        "--deadline-ms",
        type=float,
        default=Settings().request_deadline_ms,
        help="a search's time budget (the serving request deadline)",
    )
    p.add_argument("--quick", action="store_true", help="2,000 items, 3 s before, 5 s down")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quick:
        args.docs, args.before, args.down, args.after = 2000, 3.0, 5.0, 3.0
    from devtools.opensearch_node import down, status, up

    t0 = time.monotonic()
    if args.home is not None:
        info = status(args.home)
        if info is None or len(info.urls) < 2:
            print(f"failover: no running cluster of 2+ nodes in {args.home}", file=sys.stderr)
            return 2
        report = asyncio.run(run_load(args.home, ",".join(info.urls), args))
    else:
        with node_home("shopnow-failover-") as home:
            try:
                info = up(home, 0, nodes=args.nodes)
                report = asyncio.run(run_load(home, ",".join(info.urls), args))
            finally:
                down(home)
    report["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
