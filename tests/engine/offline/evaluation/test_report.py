from pathlib import Path

from engine.offline.evaluation.report import format_synthetic, plot_synthetic

ROW = {
    "requests": 10,
    "ndcg@10": 0.25,
    "recall@10": 0.4,
    "source_recall": {"bm25@500": 0.8, "covis@500": 0.1, "all_sources": 0.9},
}
REPORT = {
    "requests": 30,
    "window": [0, 1],
    "lambdamart": {"search": {"heavy": ROW}, "feed": {"weak": {**ROW, "ndcg@10": 0.05}}},
    "heuristic": {"search": {"heavy": {**ROW, "ndcg@10": 0.125}}},
}


def test_table_has_a_row_per_scorer_surface_segment() -> None:
    text = format_synthetic(REPORT)
    rows = [ln for ln in text.splitlines() if ln.startswith(("lambdamart", "heuristic"))]
    assert [[*r.split()[:3], r.split()[4]] for r in rows] == [
        ["lambdamart", "feed", "weak", "0.0500"],
        ["lambdamart", "search", "heavy", "0.2500"],
        ["heuristic", "search", "heavy", "0.1250"],
    ]
    assert "bm25@500" in text and "0.800" in text


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = plot_synthetic(REPORT, tmp_path / "sub" / "eval.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_age_groups_follow_the_segments() -> None:
    report = {
        "requests": 5,
        "window": [0, 1],
        "lambdamart": {"feed": {"fresh": {**ROW, "ndcg@10": 0.5}, "heavy": ROW}},
    }
    rows = [ln.split()[:3] for ln in format_synthetic(report).splitlines()[3:]]
    assert rows == [["lambdamart", "feed", "heavy"], ["lambdamart", "feed", "fresh"]]


def test_long_scorer_names_keep_their_own_column_and_all_follows_the_segments() -> None:
    report = {
        "requests": 5,
        "window": [0, 1],
        "baseline:popular": {"feed": {"all": ROW, "anonymous": ROW}},
    }
    rows = [ln.split()[:4] for ln in format_synthetic(report).splitlines()[3:]]
    assert rows == [
        ["baseline:popular", "feed", "anonymous", "10"],
        ["baseline:popular", "feed", "all", "10"],
    ]
