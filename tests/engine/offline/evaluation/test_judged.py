"""Judged search through the served pipeline: judgments are read strictly, scores are ranx's
graded nDCG (the grade is the gain), and the Icecat cold catalog, imported and indexed,
serves its 68 judged queries from text alone at the level recorded in docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.app.cli import main
from engine.core.settings import Settings
from engine.offline.evaluation.judged import rank_judged, read_judgments, score
from engine.offline.train import build_index
from ingest.imports.adapters import ADAPTERS
from ingest.imports.layout import lay_out
from ingest.imports.run import import_all


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


def test_the_icecat_cold_catalog_serves_search_from_text(
    needs_data: Callable[[str], Path], tmp_path: Path
) -> None:
    data = needs_data("icecat-search")
    root = tmp_path / "icecat"
    import_all(ADAPTERS["icecat"].sources(data), root, progress=False)
    lay_out(root)
    s = Settings(
        data_dir=root,
        index_dir=tmp_path / "index",
        model_dir=tmp_path / "models",
        feature_log_dir=tmp_path / "fl",
    )
    asyncio.run(build_index(s, progress=False))
    judged = read_judgments(data / "judgments.csv")
    rep = score(judged, asyncio.run(rank_judged(s, sorted(judged))))
    assert rep["queries"] == 68
    # measured 0.5724 (heuristic ranker, no behaviour); BM25 alone: 0.616 (README there)
    assert rep["overall"]["ndcg@10"] >= 0.52
    assert rep["overall"]["recall@100"] >= 0.65


def test_the_cli_scores_an_imported_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    judged.write_text("query,docid,rating\nred mug,a1,3\nred mug,a2,1\ntea pot,a3,3\n")
    capsys.readouterr()
    argv = ["eval", "--data", str(data), *paths, "--judgments", str(judged), "--json"]
    assert main([*argv, "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["queries"] == 2
    assert rep["per_query"]["tea pot"]["ndcg@10"] == 1.0  # the one judged item, first
    assert rep["per_query"]["red mug"]["recall@100"] == 1.0
