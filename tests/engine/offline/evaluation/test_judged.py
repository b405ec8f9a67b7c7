"""Judged search through the served pipeline: judgments are read strictly, scores are ranx's
graded nDCG (the grade is the gain), and the Icecat cold catalog, imported and indexed,
serves its 68 judged queries from text alone at the level recorded in docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.app.cli import main
from engine.core.settings import Settings
from engine.offline.evaluation.judged import rank_judged, read_judgments, score, versus
from engine.offline.train import build_index
from ingest.imports.adapters import ADAPTERS
from ingest.imports.layout import lay_out
from ingest.imports.run import import_all
from search_plugins.opensearch.client import drop_alias
from tests.servers import OPENSEARCH_URL, needs_opensearch


def test_judgments_are_read_strictly(tmp_path: Path) -> None:
    path = tmp_path / "j.csv"
    path.write_text("query,docid,rating\nred mug,a1,3\nred mug,a2,0\ntea,a3,2\n")
    assert read_judgments(path) == {"red mug": {"a1": 3, "a2": 0}, "tea": {"a3": 2}}
    path.write_text("query,docid,rating\nred mug,a1,high\n")
    with pytest.raises(ValueError, match=r"j\.csv:2: grade 'high' is not an integer"):
        read_judgments(path)
    path.write_text("q,d\n")
    with pytest.raises(ValueError, match="expected query,docid,rating"):
        read_judgments(path)


def test_scores_use_the_grade_as_gain() -> None:
    judged = {"a": {"x": 3, "y": 1}, "b": {"z": 2}}
    rep = score(judged, {"a": ["y", "x"], "b": []})
    # a: DCG 1/log2(2) + 3/log2(3), ideal 3/log2(2) + 1/log2(3); b: nothing found
    assert rep["per_query"]["a"]["ndcg@10"] == pytest.approx(0.7967, abs=1e-4)
    assert rep["per_query"]["b"] == {m: 0.0 for m in rep["overall"]}
    assert rep["overall"]["ndcg@10"] == pytest.approx(0.7967 / 2, abs=1e-4)
    assert rep["overall"]["precision@10"] == pytest.approx(0.1)


@pytest.fixture(scope="module")
def icecat(
    needs_data: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, dict[str, int]], Path]:
    """The Icecat catalog imported and indexed with its text vectors, and its judgments."""
    data = needs_data("icecat-search")
    tmp = tmp_path_factory.mktemp("icecat")
    root = tmp / "data"
    import_all(ADAPTERS["icecat"].sources(data), root, progress=False)
    lay_out(root)
    s = Settings(
        data_dir=root,
        index_dir=tmp / "index",
        model_dir=tmp / "models",
        feature_log_dir=tmp / "fl",
    )
    asyncio.run(build_index(s, progress=False, text_vectors=True))
    return s, read_judgments(data / "judgments.csv"), data / "judgments.csv"


def test_the_icecat_cold_catalog_serves_search_from_text(
    icecat: tuple[Settings, dict[str, dict[str, int]], Path],
) -> None:
    s, judged, _ = icecat
    rep = score(judged, asyncio.run(rank_judged(s, judged)).ranked)
    assert rep["queries"] == 68
    # measured 0.5858 (heuristic ranker, no behaviour); BM25 alone: 0.616 (README there)
    assert rep["overall"]["ndcg@10"] >= 0.54
    assert rep["overall"]["recall@100"] >= 0.68


def test_a_ranker_learned_from_judgments_beats_the_heuristic_on_unseen_queries(
    icecat: tuple[Settings, dict[str, dict[str, int]], Path],
) -> None:
    s, judged, _ = icecat
    runs = asyncio.run(rank_judged(s, judged, cv=5, seed=0))
    assert runs.baseline is not None and runs.baseline_name == "heuristic-1"
    assert set(runs.ranked) == set(judged)
    rep, base = score(judged, runs.ranked), score(judged, runs.baseline)
    # measured 0.6613 (seeds 0-2: 0.6613, 0.6575, 0.6726) against the heuristic's 0.5858;
    # 0.6236 before the gap features
    assert rep["overall"]["ndcg@10"] >= 0.635
    assert rep["overall"]["ndcg@10"] >= base["overall"]["ndcg@10"] + 0.05
    vs = versus(rep, base)
    assert vs["wins"] > vs["losses"]
    assert vs["wins"] + vs["ties"] + vs["losses"] == 68


def test_the_speller_brings_mistyped_queries_back_to_the_judged_ones(
    icecat: tuple[Settings, dict[str, dict[str, int]], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import typo_search_bench

    s, _, path = icecat
    paths = ["--data", str(s.data_dir), "--index", str(s.index_dir), "--models", str(s.model_dir)]
    capsys.readouterr()
    assert typo_search_bench.main([*paths, "--judgments", str(path)]) == 0
    rep = json.loads(capsys.readouterr().out)
    # measured: 51 of 55 restored, none changed to another query; nDCG@10 0.5571 with the
    # speller, 0.1537 without, 0.5935 for the same queries as judged (heuristic ranker)
    assert rep["queries"] >= 50 and rep["restored"] >= 0.85 * rep["queries"]
    assert rep["changed to another query"] == 0
    on, off = rep["mistyped, speller on"]["ndcg@10"], rep["mistyped, speller off"]["ndcg@10"]
    assert on >= off + 0.3 and on >= rep["as judged"]["ndcg@10"] - 0.06


@needs_opensearch
def test_opensearch_serves_the_judged_queries_as_the_embedded_backend_does(
    icecat: tuple[Settings, dict[str, dict[str, int]], Path], tmp_path: Path
) -> None:
    s, judged, _ = icecat
    alias = f"judged-{uuid.uuid4().hex[:8]}"
    os_settings = s.model_copy(
        update={
            "search_backend": "opensearch",
            "opensearch_url": OPENSEARCH_URL,
            "opensearch_alias": alias,
            "model_dir": tmp_path / "models",
        }
    )
    (tmp_path / "models").mkdir()
    shutil.copy(s.model_dir / "text_vectors.npz", tmp_path / "models" / "text_vectors.npz")
    try:
        asyncio.run(build_index(os_settings, progress=False))
        served = score(judged, asyncio.run(rank_judged(os_settings, judged)).ranked)["overall"]
    finally:
        asyncio.run(drop_alias(OPENSEARCH_URL, alias))
    embedded = score(judged, asyncio.run(rank_judged(s, judged)).ranked)["overall"]
    # measured: equal to four decimals (0.5858); Lucene's BM25 reads segment statistics
    assert served["ndcg@10"] == pytest.approx(embedded["ndcg@10"], abs=0.015)
    assert served["recall@100"] == pytest.approx(embedded["recall@100"], abs=0.02)


def test_the_cli_learns_measures_and_plots_the_judged_ranker(
    icecat: tuple[Settings, dict[str, dict[str, int]], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s, _, path = icecat
    paths = ["--data", str(s.data_dir), "--index", str(s.index_dir), "--models", str(s.model_dir)]
    plot = tmp_path / "vs.png"
    argv = ["eval", *paths, "--judgments", str(path), "--quiet"]
    capsys.readouterr()
    assert main([*argv, "--cv", "3", "--plot", str(plot), "--per-query"]) == 0
    out = capsys.readouterr().out
    assert "cross-validated ranker (3 folds)" in out and "wins" in out
    assert "rtx 2060 | " in out  # a row of the per-query table
    assert plot.stat().st_size > 10_000
    # an unknown feature to leave out is a CLI error
    assert main([*argv, "--cv", "3", "--without-features", "no_such_feature"]) == 2
    assert "unknown features ['no_such_feature']" in capsys.readouterr().err
    # published: the served ranker learned from every judged query, and eval says the
    # figures are in-sample
    assert main(["train", *paths, "--judgments", str(path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert "in-sample" in capsys.readouterr().out


def _tiny_shop(tmp_path: Path, judgments: str) -> tuple[Path, list[str], Path]:
    """Four items imported and indexed through the CLI, and a judgments file: the data
    directory, the ``--index``/``--models`` options and the judgments' path."""
    items = tmp_path / "items.csv"
    items.write_text(
        "id,title,price,created_at\n"
        "a1,Red ceramic mug,4,2024-01-02\na2,Blue ceramic mug,4,2024-01-02\n"
        "a3,Steel tea pot,20,2024-01-02\na4,Red wool scarf,15,2024-01-02\n"
    )
    data, paths = tmp_path / "shop", ["--index", str(tmp_path / "i"), "--models", str(tmp_path)]
    assert main(["import", "--into", str(data), "--items", str(items), "--quiet"]) == 0
    assert main(["index", "--data", str(data), *paths, "--quiet"]) == 0
    judged = tmp_path / "j.csv"
    judged.write_text(f"query,docid,rating\n{judgments}")
    return data, paths, judged


def test_the_cli_scores_an_imported_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, paths, judged = _tiny_shop(tmp_path, "red mug,a1,3\nred mug,a2,1\ntea pot,a3,3\n")
    capsys.readouterr()
    argv = ["eval", "--data", str(data), *paths, "--judgments", str(judged), "--json"]
    assert main([*argv, "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["queries"] == 2
    assert rep["per_query"]["tea pot"]["ndcg@10"] == 1.0  # the one judged item, first
    assert rep["per_query"]["red mug"]["recall@100"] == 1.0


def test_the_judged_search_bench_prints_latency_per_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import judged_search_bench

    data, paths, judged = _tiny_shop(tmp_path, "red mug,a1,3\ntea pot,a3,3\n")
    capsys.readouterr()
    argv = ["--data", str(data), *paths, "--judgments", str(judged), "--quick"]
    assert judged_search_bench.main(argv) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["queries"] == 2
    for config in ("every source", "bm25 alone"):
        first = rep[config]["new queries"]
        assert first["request"]["p50_ms"] > 0 and "bm25" in first and "features" in first
        assert "round 2 (cached query vectors)" in rep[config]
