"""Quality threshold of the traditional stack on real data (Amazon Beauty, full ranking)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.evaluation.beauty import PUBLISHED, evaluate_beauty, format_report

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SHOPNOW_SHARED_DATA", REPO.parent / "shared" / "data"))
BEAUTY = DATA / "amazon-beauty"


@pytest.mark.data
def test_quick_beauty_beats_published_sasrec() -> None:
    if not (BEAUTY / "sequences.txt").exists():
        pytest.skip(
            f"Amazon Beauty data missing: put amazon-beauty under {DATA} or set SHOPNOW_SHARED_DATA"
        )
    r = evaluate_beauty(BEAUTY, seed=0, progress=False, quick=True)
    # measured (quick, seed 0): HR@10 ~0.12, NDCG@10 ~0.075; SASRec published 0.0605 / 0.0318
    assert r.metrics["hr@10"] > 0.08
    assert r.metrics["ndcg@10"] > 0.045
    assert r.metrics["hr@10"] > PUBLISHED["SASRec"][2]
    assert r.metrics["hr@20"] >= r.metrics["hr@10"] >= r.metrics["hr@5"]
    # the ranker must improve on its best single source
    assert r.metrics["ndcg@10"] > r.baseline["ndcg@10"]
    assert 0 < r.pool_recall <= 1
    assert "SASRec" in format_report(r)
