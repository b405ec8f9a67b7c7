"""``shopnow compare beauty --quick`` on the real Amazon Beauty data (S3-Rec protocol)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.offline.compare import beauty
from engine.offline.evaluation.beauty_data import PUBLISHED


def test_the_three_options_on_amazon_beauty(
    tmp_path: Path, needs_data: Callable[[str], Path]
) -> None:
    root = needs_data("amazon-beauty")
    rep = beauty.run(root, quick=True, progress=False)
    v = rep["variants"]
    assert set(v) == {"traditional", "two_tower", "hybrid"}
    sasrec_hr10 = PUBLISHED["SASRec"][2]
    # measured (quick, seed 0, 5,000 users): HR@10 traditional 0.1172, two-tower + ranker
    # 0.0930, hybrid 0.1178; SASRec published 0.0605
    for name in ("traditional", "hybrid"):
        assert v[name]["metrics"]["hr@10"] > 0.09, (name, v[name]["metrics"])
    assert v["two_tower"]["metrics"]["hr@10"] > sasrec_hr10
    assert v["two_tower"]["source_recall"].keys() == {"two_tower"}  # only its own candidates
    assert "seq" in v["traditional"]["source_recall"]
    assert rep["best_quality"] == max(v, key=lambda n: v[n]["metrics"]["ndcg@10"])
    for name, fig in v.items():
        groups = fig["by_history"]
        assert sum(g["users"] for g in groups.values()) == rep["eval_users"] == 5000, name
    paths = beauty.write(rep, tmp_path)
    page = paths["html"].read_text()
    assert "S3-Rec (published)" in page and page.count("<img") == 1
    assert f"Best quality: <b>{rep['best_quality']}</b>" in page
