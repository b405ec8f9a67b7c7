"""The end-to-end benchmark's comparison of two replays' ranked lists (``--compare``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.e2e_bench import SMOKE, compare, run_named


def _write(path: Path, rows: list[tuple[list[str], list[float]]]) -> Path:
    path.write_text("".join(json.dumps({"ids": i, "scores": s}) + "\n" for i, s in rows))
    return path


def test_compare_counts_reordered_lists_and_bounds_score_drift(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", [(["x", "y"], [2.0, 1.0]), (["p", "q"], [0.5, 0.25])])
    b = _write(tmp_path / "b", [(["x", "y"], [2.0, 1.0 + 1e-6]), (["q", "p"], [0.5, 0.25])])
    got = compare(a, b)
    assert got["responses"] == 2 and got["ids_differ"] == 1 and got["first_differing"] == [1]
    assert got["max_score_diff"] == pytest.approx(1e-6)
    assert compare(a, a)["ids_differ"] == 0 and compare(a, a)["max_score_diff"] == 0.0


def test_compare_refuses_replays_of_different_lengths(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", [(["x"], [1.0])])
    b = _write(tmp_path / "b", [(["x"], [1.0]), (["y"], [1.0])])
    with pytest.raises(ValueError, match="1 responses"):
        compare(a, b)


def test_compare_sets_degraded_responses_apart(tmp_path: Path) -> None:
    # a source past its deadline in one replay changes that response: not a code difference
    a = _write(tmp_path / "a", [(["x", "y"], [2.0, 1.0]), (["p", "q"], [0.5, 0.25])])
    rows = [
        {"ids": ["x", "y"], "scores": [2.0, 1.0], "degraded": []},
        {"ids": ["r"], "scores": [9.0], "degraded": ["bm25: timed out"]},
    ]
    b = tmp_path / "b"
    b.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = compare(a, b)
    assert got["degraded"] == 1 and got["first_degraded"] == [1]
    assert got["ids_differ"] == 0 and got["max_score_diff"] == 0.0


@pytest.mark.slow
def test_a_warm_replay_times_every_request_after_an_untimed_pass(tmp_path: Path) -> None:
    report = run_named(quick=False, smoke=True, workdir=tmp_path, skip_http=True, warm=True)
    assert report["warm"] is True and report["http"] is None
    timed = report["in_process"]
    assert timed["search"]["n"] + timed["feed"]["n"] == SMOKE["n_requests"]
    assert timed["search"]["cpu_ms_mean"] > 0 and timed["feed"]["cpu_ms_mean"] > 0
