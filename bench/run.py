"""`shopnow-bench WHICH [--quick] [--smoke]`: dispatches to the benchmark modules in
``bench/``. ``smoke`` (tests): the smallest sizes every step runs on; its figures mean nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core.settings import Settings

# the benchmarks on real public data, and a file each needs
DATA_BENCHES = {"beauty": Path("amazon-beauty/sequences.txt"), "gowalla": Path("gowalla/train.txt")}


def missing_data(which: str, settings: Settings) -> str | None:
    """Why ``which`` cannot run (its data is not under ``settings.shared_data``), or None."""
    need = DATA_BENCHES.get(which)
    if need is None or (settings.shared_data / need).is_file():
        return None
    return (
        f"{settings.shared_data / need} not found: put the {need.parts[0]} data under "
        f"{settings.shared_data} or set SHOPNOW_SHARED_DATA"
    )


def run_bench(
    which: str,
    *,
    quick: bool,
    settings: Settings,
    smoke: bool = False,
    opensearch_url: str | None = None,
) -> dict[str, Any]:
    """Run one benchmark, or every one (``all``: those whose data is missing are reported as
    skipped, with the reason). The benchmarks on OpenSearch use the node at ``opensearch_url``,
    or without one start a local node for the run."""
    quick = quick or smoke
    if which != "all" and (why := missing_data(which, settings)):
        raise FileNotFoundError(why)
    out: dict[str, Any] = {}
    if which == "all":
        out |= {b: {"skipped": why} for b in DATA_BENCHES if (why := missing_data(b, settings))}
    if which in ("index", "all"):
        from bench import index_bench

        n = 5_000 if smoke else 50_000 if quick else 1_000_000
        out["index"] = index_bench.run(n, quick=quick)
    if which in ("ranker", "all"):
        from bench import ranker_bench

        out["ranker"] = ranker_bench.run(quick=quick)
    if which in ("synth", "all"):
        from bench import synth_bench

        if smoke:
            out["synth"] = synth_bench.run(quick=quick, items=1000, events=10_000)
        else:
            out["synth"] = synth_bench.run(quick=quick)
    if which in ("beauty", "all") and "beauty" not in out:
        import tempfile

        from bench import beauty_bench
        from bench.imported import imported

        with tempfile.TemporaryDirectory() as tmp:
            data = settings.shared_data / "amazon-beauty"
            world = imported("amazon-beauty", data, Path(tmp), reuse=False)
            out["beauty"] = beauty_bench.run(world, quick=quick, two_tower=False, smoke=smoke)
    if which in ("backends", "all"):
        from bench import backends_bench

        out["backends"] = backends_bench.run_named(
            quick=quick, opensearch_url=opensearch_url, smoke=smoke
        )
    if which in ("two_tower", "all"):
        import tempfile

        from bench import two_tower_bench

        with tempfile.TemporaryDirectory() as tmp:
            out["two_tower"] = two_tower_bench.run(
                Path(tmp),
                quick=quick,
                reuse=False,
                requests=100 if smoke else 1000 if quick else 3000,
                smoke=smoke,
            )
    if which in ("graph", "all"):
        import tempfile

        from bench import graph_bench

        with tempfile.TemporaryDirectory() as tmp:
            out["graph"] = graph_bench.run(
                Path(tmp),
                quick=quick,
                reuse=False,
                requests=100 if smoke else 1000 if quick else 3000,
                smoke=smoke,
            )
    if which in ("gowalla", "all") and "gowalla" not in out:
        from bench import gowalla_bench

        data = settings.shared_data / "gowalla"
        out["gowalla"] = gowalla_bench.run_named(data, quick=quick, smoke=smoke)
    if which in ("e2e", "all"):
        from bench import e2e_bench

        out["e2e"] = e2e_bench.run_named(quick=quick, smoke=smoke)
    if which in ("online", "all"):
        from bench import online_bench

        out["online"] = online_bench.run(
            quick=quick, stores=("embedded", "redis"), redis_url=None, smoke=smoke
        )
    if which in ("ingest", "all"):
        from bench import ingest_bench

        out["ingest"] = ingest_bench.run_named(
            quick=quick, opensearch_url=opensearch_url, smoke=smoke
        )
    if which in ("rollout", "all"):
        from bench import rollout_bench

        out["rollout"] = rollout_bench.run_named(
            quick=quick, opensearch_url=opensearch_url, smoke=smoke
        )
    if which in ("import", "all"):
        from bench import import_bench

        out["import"] = import_bench.run(quick=quick, smoke=smoke)
    if which in ("rules", "all"):
        import tempfile

        from bench import rules_bench

        with tempfile.TemporaryDirectory() as tmp:
            out["rules"] = rules_bench.run(
                Path(tmp), quick=quick, reuse=False, requests=40 if smoke else 400, smoke=smoke
            )
    return out
