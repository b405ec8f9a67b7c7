from __future__ import annotations

from engine.offline.compare import funnel
from tests.engine.offline.compare.figures import variant

BASE = {"anonymous": 0.10, "weak": 0.12, "heavy": 0.25}


def test_more_recall_and_less_outcome_is_flagged() -> None:
    """A retrieval change built to raise recall (0.50 -> 0.70) while the page earns less."""
    worse = {k: v * 0.8 for k, v in BASE.items()}
    variants = {
        "traditional": variant("traditional", purchases=BASE, recall=0.5),
        "hybrid": variant("hybrid", purchases=worse, recall=0.7),
    }
    flags = funnel.flags(variants)
    assert len(flags) == 2  # feed and search
    assert all("traditional -> hybrid raises candidate recall 0.500 -> 0.700" in f for f in flags)
    assert all("(-20.0%)" in f for f in flags), flags
    stages = funnel.table(variants)["hybrid"]["feed"]
    assert stages["candidate_recall"] == 0.7 and stages["requests"] == 400


def test_more_recall_and_more_outcome_is_not_flagged() -> None:
    better = {k: v * 1.2 for k, v in BASE.items()}
    variants = {
        "traditional": variant("traditional", purchases=BASE, recall=0.5),
        "hybrid": variant("hybrid", purchases=better, recall=0.7),
    }
    assert funnel.flags(variants) == []
