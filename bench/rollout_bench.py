"""A towers rollout under load: ``python -m bench.rollout_bench [--quick] [--backends
embedded,opensearch] [--opensearch-url URL] [--workdir DIR --reuse] [--clients 4]``; prints
JSON.

On the synthetic marketplace (the demo's 50K items; ``--quick`` 5K) with a towers model served,
a new towers version is published while ``--clients`` loops send search and feed requests back
to back and new items are written at 50/s (after 30 s for the freshly built index to settle,
and 10 s of load measured as the baseline). The server re-embeds into a new index generation and
swaps model and generation (:mod:`engine.app.towers_rollout`). Reported per backend: the rollout's
time and how long ingest was held, the requests answered during it (latency percentiles,
failures, responses flagged degraded and why, the versions they read), and how long the items
written during the hold waited. The new version carries the served weights (so its item vectors
are the ones training saved: what ``shopnow train-towers`` leaves) under a new name; the cost of
a rollout does not depend on the weights.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.ingest_bench import _pct
from bench.node import dropped_after, local_node
from bench.world import bench_world
from engine.app.model_watch import refresh_towers
from engine.core.contracts import FeedRequest, SearchRequest
from engine.core.settings import Settings
from engine.offline.compare.freshness import new_item, templates
from engine.offline.train import build_index, train_towers
from engine.serving.assembly import open_engine
from engine.serving.service import Engine

SETTLE_S = 30.0
QUERIES = ("red dress", "wireless earbuds", "running shoes", "kitchen knife", "face cream")


def republish(settings: Settings) -> str:
    """The served towers weights and saved item vectors under a new version, made CURRENT."""
    import torch

    from towers.artifact import load_artifact, save_artifact
    from towers.model import TwoTower
    from towers.serving import VECTORS_FILE

    served = load_artifact(settings.towers_dir)
    model = TwoTower(served.meta.tower_config)
    weights = settings.towers_dir / served.version / "weights.pt"
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    torch.manual_seed(int(time.time()))
    version = save_artifact(
        settings.towers_dir,
        model,
        train_config={**served.meta.train_config, "republished_from": served.version},
        vocabularies=served.vocabularies,
        metrics=served.meta.metrics,
        training_window={**served.meta.training_window, "bench": str(time.time())},
        restricted_min_support=served.meta.restricted_min_support,
        make_current=False,
    )
    src = settings.towers_dir / served.version / VECTORS_FILE
    if src.is_file():
        shutil.copy(src, settings.towers_dir / version / VECTORS_FILE)
    (settings.towers_dir / "CURRENT").write_text(version + "\n")
    return version


async def _client(engine: Engine, k: int, stop: asyncio.Event, out: list[dict[str, Any]]) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        req: SearchRequest | FeedRequest
        if i % 2:
            req = SearchRequest(query=QUERIES[(i + k) % len(QUERIES)], page_size=20)
        else:
            req = FeedRequest(user_id=f"bench-{k}", page_size=20)
        t = time.perf_counter()
        try:
            resp = await engine.rank(req)
        except Exception as exc:  # counted, never raised: the run measures failures
            out.append({"at": time.monotonic(), "error": repr(exc)})
            continue
        out.append(
            {
                "at": time.monotonic(),
                "s": time.perf_counter() - t,
                "items": len(resp.items),
                "degraded": resp.degraded_reasons,
                "towers": resp.model_versions.get("towers"),
            }
        )


async def _writer(engine: Engine, stop: asyncio.Event, accepted: dict[str, float]) -> None:
    tpl = templates(engine.settings, 500)
    tag = f"rb{int(time.time())}"
    k = 0
    while not stop.is_set():
        items = [new_item(tpl[(k + j) % len(tpl)], k + j, tag) for j in range(5)]
        k += 5
        now = time.monotonic()
        await engine.writes.upsert(items, wait_s=0.0)
        accepted.update({it.id: now for it in items})
        await asyncio.sleep(0.1)


async def _run_backend(
    settings: Settings,
    clients: int,
    settle_s: float = SETTLE_S,
    steady_s: float = 10.0,
    after_s: float = 5.0,
) -> dict[str, Any]:
    engine = await open_engine(settings, warm=False)
    await asyncio.sleep(settle_s)  # the index just built: let its merges finish first
    fresh: list[float] = []

    def on_fresh(source: str, s: float) -> None:
        if source == "catalog":
            fresh.append(s)

    engine.writes.worker.on_freshness = on_fresh
    workers = [asyncio.create_task(engine.writes.worker.run(0.05))]
    if engine.writes.writer.lane is not None:
        workers.append(asyncio.create_task(engine.writes.writer.lane.run(0.2)))
    stop = asyncio.Event()
    answered: list[dict[str, Any]] = []
    accepted: dict[str, float] = {}
    try:
        load = [asyncio.create_task(_client(engine, k, stop, answered)) for k in range(clients)]
        load.append(asyncio.create_task(_writer(engine, stop, accepted)))
        await asyncio.sleep(steady_s)  # steady state first
        before = len(answered)
        steady = [a for a in answered if "s" in a]
        version = await asyncio.to_thread(republish, settings)
        began = time.monotonic()
        rollout = await refresh_towers(engine)
        ended = time.monotonic()
        await asyncio.sleep(after_s)
        stop.set()
        await asyncio.gather(*load)
        await engine.writes.drain()
        assert rollout is not None and rollout.version == version
        during = [a for a in answered[before:] if began <= a["at"] <= ended]
        after = [a for a in answered if a["at"] > ended]
        served = [a for a in during if "s" in a]
        reasons = Counter(why.split(": ", 1)[0] for a in during for why in a.get("degraded", []))
        return {
            "items": rollout.items,
            "rollout_s": round(rollout.seconds, 2),
            "ingest_held_s": round(rollout.held_s, 2),
            "vectors_computed_in_rollout": rollout.completed_vectors,
            "fill_items_per_s": round(rollout.items / max(rollout.held_s, 1e-9), 1),
            "requests_during": len(during),
            "failed_during": sum("error" in a for a in during),
            "degraded_during": sum(bool(a.get("degraded")) for a in during),
            "degraded_reasons": dict(reasons),
            "empty_pages_during": sum(a.get("items", 0) == 0 for a in served),
            "before": {
                "requests": len(steady),
                "latency": _pct([a["s"] for a in steady]),
                "degraded": sum(bool(a.get("degraded")) for a in steady),
                "empty_pages": sum(a.get("items", 0) == 0 for a in steady),
            },
            "latency_during": _pct([a["s"] for a in served]),
            "latency_after": _pct([a["s"] for a in after if "s" in a]),
            "towers_read_during": dict(Counter(a.get("towers") for a in served)),
            "writes_during_hold": sum(began <= t <= ended for t in accepted.values()),
            "catalog_freshness": _pct(fresh),  # its max: a write accepted as the hold began
            "backlog_after": engine.writes.backlog,
            "served_version_after": engine.versions.get("towers"),
            "index_vectors_of_new_model": len(
                await engine.index.vector(
                    np.asarray(engine.towers.vector(0), np.float32),  # type: ignore[union-attr]
                    10,
                    model=version,
                )
            ),
        }
    finally:
        for t in workers:
            t.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await engine.close()


def run(
    workdir: Path,
    *,
    quick: bool,
    reuse: bool,
    backends: Sequence[str],
    clients: int,
    opensearch_url: str | None,
    smoke: bool = False,
) -> dict[str, Any]:
    """``smoke``: the smallest world, and 1 s of load before and after (for tests)."""
    settings, out = bench_world(workdir, quick=quick, reuse=reuse, smoke=smoke)
    if not (reuse and (settings.towers_dir / "CURRENT").is_file()):
        train_towers(settings, max_epochs=1 if smoke else 2 if quick else 6, force=True)
    out |= {"clients": clients, "backends": {}}
    for backend in backends:
        b = settings.model_copy(
            update={
                "search_backend": backend,
                "ingest_dir": workdir / f"ingest-rollout-{backend}",
                "index_dir": workdir / f"index-rollout-{backend}",
                "opensearch_url": opensearch_url or settings.opensearch_url,
                "opensearch_alias": f"bench-rollout-{int(time.time())}",
            }
        )
        shutil.rmtree(b.ingest_path, ignore_errors=True)
        waits = {"settle_s": 1.0, "steady_s": 1.0, "after_s": 1.0} if smoke else {}
        with dropped_after(b):
            asyncio.run(build_index(b, progress=False))
            print(f"{backend}: rollout under {clients} clients", file=sys.stderr)
            out["backends"][backend] = asyncio.run(_run_backend(b, clients, **waits))
        print(json.dumps(out["backends"][backend]), file=sys.stderr)
    return out


def run_named(
    *, quick: bool, opensearch_url: str | None = None, smoke: bool = False
) -> dict[str, Any]:
    """For ``shopnow-bench rollout``: both backends; without ``opensearch_url`` a local node
    started for the run."""
    with tempfile.TemporaryDirectory() as tmp, local_node(opensearch_url) as url:
        return run(
            Path(tmp),
            quick=quick,
            reuse=False,
            backends=("embedded", "opensearch"),
            clients=2 if smoke else 4,
            opensearch_url=url,
            smoke=smoke,
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--backends", default="embedded,opensearch")
    ap.add_argument("--clients", type=int, default=4, help="request loops running meanwhile")
    ap.add_argument("--opensearch-url", help="a running node; default: start a local one")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--reuse", action="store_true", help="keep data and models in --workdir")
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_node(args.opensearch_url, needed="opensearch" in backends) as url,
    ):
        rep = run(
            args.workdir or Path(tmp),
            quick=args.quick,
            reuse=args.reuse,
            backends=backends,
            clients=args.clients,
            opensearch_url=url,
        )
    print(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
