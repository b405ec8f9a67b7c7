"""`shopnow bench WHICH [--quick]`: dispatches to the benchmark modules in ``bench/``."""

from __future__ import annotations

from typing import Any

from engine.settings import Settings


def run_bench(which: str, *, quick: bool, settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if which in ("index", "all"):
        from bench import index_bench

        out["index"] = index_bench.run(50_000 if quick else 1_000_000, quick=quick)
    if which in ("ranker", "all"):
        from bench import ranker_bench

        out["ranker"] = ranker_bench.run(quick=quick)
    if which in ("synth", "all"):
        from bench import synth_bench

        out["synth"] = synth_bench.run(quick=quick)
    if which in ("beauty", "all"):
        from engine.evaluation.beauty import evaluate_beauty

        data = settings.shared_data / "amazon-beauty"
        out["beauty"] = evaluate_beauty(data, quick=quick).to_dict()
    if which in ("backends", "all"):
        from bench import backends_bench

        out["backends"] = backends_bench.run_named(quick=quick)
    if which in ("two_tower", "all"):
        import tempfile
        from pathlib import Path

        from bench import two_tower_bench

        with tempfile.TemporaryDirectory() as tmp:
            out["two_tower"] = two_tower_bench.run(
                Path(tmp), quick=quick, reuse=False, requests=1000 if quick else 3000
            )
    if which in ("graph", "all"):
        import tempfile
        from pathlib import Path

        from bench import graph_bench

        with tempfile.TemporaryDirectory() as tmp:
            out["graph"] = graph_bench.run(
                Path(tmp), quick=quick, reuse=False, requests=1000 if quick else 3000
            )
    if which in ("gowalla", "all"):
        from bench import gowalla_bench

        out["gowalla"] = gowalla_bench.run_named(settings.shared_data / "gowalla", quick=quick)
    if which in ("e2e", "all"):
        from bench import e2e_bench

        out["e2e"] = e2e_bench.run_named(quick=quick)
    if which in ("online", "all"):
        from bench import online_bench

        out["online"] = online_bench.run(quick=quick, stores=("embedded", "redis"), redis_url=None)
    if which in ("ingest", "all"):
        from bench import ingest_bench

        out["ingest"] = ingest_bench.run_named(quick=quick, opensearch_url=None)
    if which in ("rollout", "all"):
        from bench import rollout_bench

        out["rollout"] = rollout_bench.run_named(quick=quick)
    if which in ("rules", "all"):
        import tempfile
        from pathlib import Path

        from bench import rules_bench

        with tempfile.TemporaryDirectory() as tmp:
            out["rules"] = rules_bench.run(Path(tmp), quick=quick, reuse=False, requests=400)
    return out
