from __future__ import annotations

from engine.offline.compare.recommend import Constraints, objective, recommend
from tests.engine.offline.compare.figures import variant

HEAVY_WIN = {"anonymous": 0.10, "weak": 0.12, "heavy": 0.30}


def _three() -> dict:
    return {
        "traditional": variant(
            "traditional", purchases={"anonymous": 0.12, "weak": 0.12, "heavy": 0.25}
        ),
        "two_tower": variant(
            "two_tower", purchases={"anonymous": 0.08, "weak": 0.10, "heavy": 0.26}, p99_ms=60
        ),
        "hybrid": variant("hybrid", purchases=HEAVY_WIN, p99_ms=90, usd=0.0006),
    }


def test_the_best_feasible_objective_wins_with_its_reasons() -> None:
    rec = recommend(_three(), Constraints())
    assert rec["choice"] == "hybrid"
    assert rec["objective"]["hybrid"] > rec["objective"]["traditional"]
    assert any(r.startswith("hybrid has the best objective") for r in rec["reasons"])


def test_changing_the_constraints_changes_the_recommendation() -> None:
    figures = _three()
    cheap = recommend(figures, Constraints(usd_per_request=0.0005))
    assert cheap["choice"] != "hybrid"
    assert any("hybrid is ruled out: cost" in r for r in cheap["reasons"]), cheap["reasons"]
    fast = recommend(figures, Constraints(p99_ms=50))
    assert fast["choice"] == "traditional"
    assert any("two_tower is ruled out: p99 60" in r for r in fast["reasons"])
    # weighting anonymous and weak users more moves the choice to what serves them best
    weak_heavy = recommend(figures, Constraints(weak_share=0.9))
    assert weak_heavy["choice"] == "traditional", weak_heavy["objective"]


def test_freshness_rules_a_variant_out() -> None:
    figures = _three()
    figures["hybrid"]["freshness"]["search"] = {"source": None, "p99_s": None}
    rec = recommend(figures, Constraints())
    assert rec["choice"] != "hybrid"
    assert any("search: no source can propose a new item" in r for r in rec["reasons"])
    figures["traditional"]["freshness"]["feed"] = {"source": "bm25", "p99_s": 900.0}
    rec = recommend(figures, Constraints())
    assert any(
        "traditional is ruled out: feed: new items eligible after 900" in r for r in rec["reasons"]
    )


def test_a_tie_goes_to_the_simpler_variant() -> None:
    same = {"anonymous": 0.1, "weak": 0.1, "heavy": 0.2}
    figures = {
        "traditional": variant("traditional", purchases=same),
        "hybrid": variant("hybrid", purchases={**same, "heavy": 0.201}),
    }
    rec = recommend(figures, Constraints(tie_tolerance=0.02))
    assert rec["choice"] == "traditional"
    assert any("fewest moving parts" in r for r in rec["reasons"])
    assert recommend(figures, Constraints(tie_tolerance=0.0))["choice"] == "hybrid"


def test_nothing_feasible_says_so() -> None:
    rec = recommend(_three(), Constraints(p99_ms=1.0))
    assert rec["choice"] is None and rec["reasons"][-1] == "no variant meets every constraint"


def test_objective_weights_weak_users_by_their_share() -> None:
    v = variant("traditional", purchases={"anonymous": 0.0, "weak": 0.0, "heavy": 1.0})
    assert abs(objective(v, Constraints(weak_share=0.35)) - 0.65) < 1e-9
    assert abs(objective(v, Constraints(weak_share=0.0)) - 1.0) < 1e-9


def test_a_variant_that_shows_few_new_items_gets_a_note() -> None:
    figures = _three()
    figures["hybrid"]["new_item_exposure"] = 0.18
    figures["traditional"]["new_item_exposure"] = 0.75
    rec = recommend(figures, Constraints())
    assert rec["choice"] == "hybrid"
    assert any(r.startswith("new items: traditional shows 75%") for r in rec["reasons"])
