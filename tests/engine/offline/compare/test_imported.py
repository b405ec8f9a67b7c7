"""``shopnow compare`` on imported data: a one-month slice of UCI Online Retail, imported as a
marketplace's export would be. No hidden truth: quality is the objective, the outcome, the
calibration and the simulated online tests are skipped with their reason, and every quality
figure has its paired interval."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.app.importing import run_import
from engine.core.settings import Settings
from engine.offline.compare.recommend import Constraints, recommend
from engine.offline.compare.run import compare
from tests.engine.world import OFFLINE_DEADLINES
from tests.test_own_data_tutorial import export_slice

pytestmark = pytest.mark.slow  # imports, trains and serves end to end


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, needs_data: Callable[[str], Path]
) -> Iterator[tuple[dict[str, Any], Path]]:
    root = tmp_path_factory.mktemp("compare-imported")
    export_slice(needs_data("online-retail"), root / "shop")
    files = {"items": [root / "shop" / "items.csv"], "events": [root / "shop" / "events.csv"]}
    assert run_import(root / "data", files, progress=False) == 0  # type: ignore[arg-type]
    settings = Settings(
        data_dir=root / "data",
        index_dir=root / "index",
        model_dir=root / "models",
        feature_log_dir=root / "feature-log",
        search_backend="embedded",
        **OFFLINE_DEADLINES,
    )
    out = root / "report"
    rep = compare(settings, out, requests=300, fresh_items=40, quick=True, progress=False)
    yield rep, out


def test_nothing_is_synthesised_and_what_needs_truth_is_skipped(
    report: tuple[dict[str, Any], Path],
) -> None:
    rep, _ = report
    assert "synth" not in rep["prepared"]
    assert set(rep["skipped"]) == {"outcome", "calibration", "online"}
    assert "online" not in rep
    for v in rep["variants"].values():
        assert v["outcome"] == {} and v["calibration"] == {}


def test_every_quality_figure_has_its_paired_interval(
    report: tuple[dict[str, Any], Path],
) -> None:
    rep, _ = report
    leader = rep["recommendation"]["leader"]
    assert rep["intervals"]["replicates"] == 1000 and rep["intervals"]["leader"] == leader
    cells = 0
    for name, v in rep["variants"].items():
        for segs in v["quality"].values():
            for cell in segs.values():
                if "ci95" not in cell:  # complement groups are not in the table
                    continue
                cells += 1
                for metric in ("ndcg@10", "hr@10", "recall@10"):
                    lo, hi = cell["ci95"][metric]
                    assert lo - 1e-4 <= cell[metric] <= hi + 1e-4, (name, metric, cell)
                    if name != leader:
                        d_lo, d_hi = cell["vs_leader"][metric]
                        assert d_lo <= d_hi
    assert cells >= 3 * 4  # three variants, two surfaces' "all" and a segment at least


def test_quality_is_the_objective_and_significance_decides(
    report: tuple[dict[str, Any], Path],
) -> None:
    rep, _ = report
    rec = rep["recommendation"]
    assert rec["objective_metric"] == "ndcg@10"
    assert rec == recommend(rep["variants"], Constraints(), rep["sample"])
    assert 0 < rec["requests"] <= rep["requests"]
    if rec["choice"] is not None:
        said = [r for r in rec["reasons"] if "significantly ahead" in r]
        assert len(said) == 1, rec["reasons"]
        assert f"{rec['requests']} requests from {rec['users']} users" in said[0]
        if rec["significant"] is False:
            assert "not significantly ahead" in said[0]


def test_the_report_says_what_it_could_not_measure(report: tuple[dict[str, Any], Path]) -> None:
    _, out = report
    md = (out / "report.md").read_text()
    assert "## Not measured on this data" in md and "truth.npz" in md
    assert "## Business outcome" not in md and "## Simulated A/B" not in md
    assert "## The objective, with paired intervals" in md
    assert (out / "ndcg.png").is_file() and not (out / "purchases.png").exists()
