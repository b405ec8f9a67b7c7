"""The capacity plan follows its measured inputs and its assumptions (figures: ``python -m
bench.capacity_plan``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.capacity_plan import Assumptions, main, plan


def _run(rps: float, p99: float, **extra: float) -> dict:
    surface = {"p99_ms": p99, "errors": {}}
    return {"throughput_rps": rps, "search": surface, "feed": surface | {"p99_ms": p99 - 5}} | extra


def _load(per_core: float, budget_ms: float = 150.0) -> dict:
    """Two cores; with 2 workers, ``2 x per_core`` answered within the budget, and more past it."""

    def size(cores: int) -> dict:
        rate = per_core * cores
        return {
            "per_core_rps": 1.5 * per_core,  # saturation: past the budget
            "sweep": [_run(rate, 140.0, concurrency=4), _run(1.5 * rate, 400.0)],
            "load": [_run(rate * 0.8, 25.0, fraction=0.8)],
        }

    return {
        "items": 50_000,
        "backend": "embedded",
        "cores": 2,
        "generator": "vegeta",
        "p99_budget_ms": budget_ms,
        "workers": {"1": size(1), "2": size(2)},
    }


def _vectors(hot: float, store: float) -> dict:
    knn = {"qps": 400.0, "took": {"p50_ms": 3.0}}
    return {
        "vectors": 1_000_000,
        "hot_bytes_per_vector": hot,
        "store_bytes_per_vector": store,
        "knn_search_one_shard": knn,
    }


FOOTPRINT = {
    "opensearch": {"float32": _vectors(300.0, 1500.0), "sq": _vectors(110.0, 1600.0)},
    "redis": {
        "bytes_per_user": 2000.0,
        "bytes_per_item_counter": 100.0,
        "interactions_per_user": 20,
        "queries_per_user": 3,
    },
}


def _rows(result: dict) -> dict[str, str]:
    return {f"{r['part']}: {r['what']}": r["figure"] for r in result["rows"]}


def test_the_plan_is_arithmetic_on_the_measured_figures() -> None:
    a = Assumptions()
    rows = _rows(plan(_load(100.0), FOOTPRINT, a))
    # the best worker count's figure: 180,000 / (100 x 0.8)
    assert rows["API: cores at peak"] == "2,250"
    # 120M x 110 B x 2 copies; float32 120M x 300 B x 2
    assert rows["OpenSearch: vectors' hot set, sq int8"] == "26 GB"
    assert rows["OpenSearch: vectors' hot set, float32"] == "72 GB"
    # the served float32 index: 120M x (1500 + 1500) B / 30 GB
    assert rows["OpenSearch: primary shards"] == "12"
    # 45M x 2000 B + 120M x 100 B
    assert rows["Redis: memory (one copy)"] == "102 GB"
    # twice the API throughput per core: half the cores
    assert _rows(plan(_load(200.0), FOOTPRINT, a))["API: cores at peak"] == "1,125"


def test_the_api_is_sized_on_the_rate_kept_within_the_p99_budget() -> None:
    a = Assumptions()
    within = plan(_load(100.0), FOOTPRINT, a)
    how = {r["what"]: r["how"] for r in within["rows"]}["cores at peak"]
    assert (
        "100.0 req/s per core within the 150 ms p99 budget" in how
        and "p99 at the measured rate 140.0 ms" in how
    )
    # a tighter budget that no run kept: saturation per core (150) x the operating share
    tight = plan(_load(100.0, budget_ms=10.0), FOOTPRINT, a)
    assert _rows(tight)["API: cores at peak"] == "1,500"
    assert (
        "no run within the budget" in {r["what"]: r["how"] for r in tight["rows"]}["cores at peak"]
    )


def test_costs_are_judged_against_the_cap() -> None:
    cheap = plan(_load(100.0), FOOTPRINT, Assumptions())
    dear = plan(_load(100.0), FOOTPRINT, Assumptions(usd_vcpu_hour=50.0))
    assert dear["cost_per_request_usd"] > cheap["cost_per_request_usd"]
    assert cheap["cost_per_request_usd"] <= 0.001 < dear["cost_per_request_usd"]
    how = {r["what"]: r["how"] for r in dear["rows"]}["per request"]
    assert "OVER" in how


def test_the_command_prints_the_plan_and_every_assumption(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "load.json").write_text(json.dumps(_load(100.0)))
    (tmp_path / "fp.json").write_text(json.dumps(FOOTPRINT))
    args = ["--load", str(tmp_path / "load.json"), "--footprint", str(tmp_path / "fp.json")]
    assert main([*args, "--peak-rps", "90000"]) == 0
    out = capsys.readouterr().out
    assert "| API | cores at peak | 1,125 |" in out
    assert "`--peak-rps` 90000" in out and "`--usd-gb-hour` 0.006" in out
    (tmp_path / "fp.json").write_text("{not json")
    assert main(args) == 2
    assert "cannot read the reports" in capsys.readouterr().err
