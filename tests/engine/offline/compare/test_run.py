"""``shopnow compare`` end to end on a small synthetic marketplace (embedded backend)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.offline.compare import render
from engine.offline.compare.recommend import Constraints, recommend
from engine.offline.compare.run import CompareInputs, assemble, compare
from tests.engine.world import synthetic_world

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    root = tmp_path_factory.mktemp("compare")
    with synthetic_world(
        root, "embedded", items=3000, events=60_000, seed=5, truth=True
    ) as settings:
        out = root / "report"
        rep = compare(settings, out, requests=300, fresh_items=60, quick=True, progress=False)
        yield rep, out


def test_every_variant_is_measured(report: tuple[dict[str, Any], Path]) -> None:
    rep, _ = report
    assert set(rep["variants"]) == {"traditional", "two_tower", "hybrid"}
    assert rep["prepared"] == ["train-towers", "train-graph", "index", "train"]
    for name, v in rep["variants"].items():
        assert v["latency"]["end_to_end"]["n"] == rep["requests"], name
        assert v["latency"]["end_to_end"]["p99_ms"] > 0
        assert set(v["latency"]["by_surface"]) == set(v["cpu_ms_by_surface"]) == {"feed", "search"}
        assert v["cpu_ms_per_request"] > 0
        assert 0 < v["cost"]["usd_per_request"] < 0.01, v["cost"]
        feed = v["outcome"]["feed"]["all"]
        assert feed["requests"] > 50 and feed["purchases_per_request"] > 0
        assert abs(sum(v["slot_share"].values())) > 0.99  # every slot came from some source
        for surface in ("feed", "search"):
            q = v["quality"][surface]["heavy"]
            assert q["source_recall"]["all_sources"] > 0.2, (name, surface, q)
    # the hybrid retrieves at least what either single option does, per surface
    for surface in ("feed", "search"):
        hybrid = rep["variants"]["hybrid"]["quality"][surface]["heavy"]["source_recall"]
        for single in ("traditional", "two_tower"):
            other = rep["variants"][single]["quality"][surface]["heavy"]["source_recall"]
            assert hybrid["all_sources"] >= other["all_sources"] - 0.02, (surface, single)
    # maintainability: the hybrid runs everything both options run
    parts = {n: v["maintainability"]["moving_parts"] for n, v in rep["variants"].items()}
    assert parts["hybrid"] > max(parts["traditional"], parts["two_tower"])


def test_online_tests_run_against_traditional(report: tuple[dict[str, Any], Path]) -> None:
    rep, _ = report
    online = rep["online"]
    assert online["control"] == "traditional"
    for name in ("two_tower", "hybrid"):
        t = online[name]
        users = t["ab"]["users"]
        assert users["control"] > 20 and users["treatment"] > 20
        for metric in ("clicks", "purchases", "revenue"):
            m = t["ab"][metric]
            assert m["ci95"][0] <= m["diff"] <= m["ci95"][1]
            assert m["cuped"]["variance_reduction"] >= -1e-9
        inter = t["interleaving"]
        assert inter["requests"] == rep["requests"]
        assert set(t["sensitivity"]["power"]) == {"ab", "ab_cuped", "interleaving"}


def test_freshness_is_measured_per_source(report: tuple[dict[str, Any], Path]) -> None:
    rep, _ = report
    fresh = rep["freshness"]
    for label in ("catalog", "bm25", "two_tower", "graph", "two_tower_full"):
        assert fresh[label]["n"] == 60, (label, fresh)
    assert fresh["bm25"]["p99_s"] < 60 and fresh["two_tower"]["p99_s"] < 60
    trad = rep["variants"]["traditional"]["freshness"]
    assert trad["search"]["source"] == "bm25" and trad["feed"]["source"] == "new_arrivals"
    assert "covis" in trad["behaviour_only"]
    assert rep["variants"]["two_tower"]["freshness"]["search"]["source"] == "two_tower"


def test_the_recommendation_follows_from_the_figures(
    report: tuple[dict[str, Any], Path],
) -> None:
    rep, _ = report
    rec = rep["recommendation"]
    assert rec == recommend(rep["variants"], Constraints(), rep["sample"])
    assert rec["choice"] in rep["variants"] and rec["reasons"]
    assert rec["objective_metric"] == "purchases_per_request" and rec["significant"] is not None
    assert rec["requests"] <= rep["requests"] and len(rec["objective_ci95"]) == len(
        rec["objective"]
    )
    # a latency budget just under the chosen variant's p99 rules it out: another is chosen
    chosen_p99 = rep["variants"][rec["choice"]]["latency"]["end_to_end"]["p99_ms"]
    tighter = Constraints(p99_ms=chosen_p99 * 0.999)
    other = recommend(rep["variants"], tighter, rep["sample"])
    assert other["choice"] != rec["choice"]
    assert any(r.startswith(f"{rec['choice']} is ruled out: p99") for r in other["reasons"])


def test_every_figure_has_a_paired_interval(report: tuple[dict[str, Any], Path]) -> None:
    """Quality and outcome cells carry their interval and their difference to the leader; the
    per-request means are the report's figures."""
    rep, _ = report
    leader = rep["recommendation"]["leader"]
    for name, v in rep["variants"].items():
        for table, metric in (("quality", "ndcg@10"), ("outcome", "purchases_per_request")):
            cell = v[table]["feed"]["all"]
            lo, hi = cell["ci95"][metric]
            assert lo - 1e-4 <= cell[metric] <= hi + 1e-4, (name, table, cell)
            assert (name == leader) == ("vs_leader" not in cell)
    sample = rep["sample"]
    j = sample.variants.index("hybrid")
    rows = sample.rows("search", ("heavy",))
    got = float(sample.values["ndcg@10"][rows, j].mean())
    assert abs(got - rep["variants"]["hybrid"]["quality"]["search"]["heavy"]["ndcg@10"]) < 1e-4


def test_the_report_is_written(report: tuple[dict[str, Any], Path]) -> None:
    rep, out = report
    page = (out / "report.html").read_text()
    assert page.count("<img") == 6 and "Recommendation: <b>" in page
    assert f"Recommendation: <b>{rep['recommendation']['choice']}</b>" in page
    md = (out / "report.md").read_text()
    assert "## The funnel" in md and "| traditional | search |" in md
    assert json.loads((out / "report.json").read_text())["requests"] == rep["requests"]
    assert "Team-draft interleaving on the same traffic" in page
    assert "New items shown within an hour" in page and "end to end, search" in page
    for png in ("ndcg", "purchases", "latency", "cost", "slots", "power"):
        assert (out / f"{png}.png").stat().st_size > 5000


def test_a_funnel_inversion_built_on_purpose_is_flagged_in_the_report(
    report: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    """A variant built to retrieve every relevant item, its pages earning 30% less than the
    measured traditional one's, set beside it: the report flags it on both surfaces."""
    rep, _ = report
    measured = rep["variants"]["traditional"]
    bad = copy.deepcopy(measured)
    for segs in bad["outcome"].values():
        for row in segs.values():
            for key in ("clicks_per_request", "purchases_per_request", "revenue_per_request"):
                row[key] *= 0.7
    for segs in bad["quality"].values():
        for row in segs.values():
            row["source_recall"]["all_sources"] = 1.0
    offline = {**{k: v for k, v in rep.items() if k not in ("variants",)}}
    offline["variants"] = {"traditional": measured, "recall_max": bad}
    rebuilt = assemble(offline, rep["freshness"], rep["bytes_per_item"], CompareInputs())
    flags = [f for f in rebuilt["funnel_flags"] if "traditional -> recall_max" in f]
    assert any(
        f.startswith("feed: traditional -> recall_max raises candidate recall") for f in flags
    )
    paths = render.write(rebuilt, tmp_path)
    assert "traditional -&gt; recall_max raises candidate recall" in paths["html"].read_text()
    assert "⚠ feed: traditional -> recall_max" in paths["md"].read_text()
