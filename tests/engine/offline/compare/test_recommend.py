from __future__ import annotations

from typing import Any

import pytest

from engine.offline.compare.recommend import Constraints, objective, recommend
from tests.engine.offline.compare.figures import sample_of, variant

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


def _rec(figures: dict[str, Any], c: Constraints | None = None, **kw: Any) -> dict[str, Any]:
    """The recommendation with per-request figures made up around ``figures``' means."""
    return recommend(figures, c or Constraints(), sample_of(figures, **kw))


def test_the_best_feasible_objective_wins_with_its_reasons() -> None:
    figures = _three()
    rec = _rec(figures)
    assert rec["choice"] == rec["leader"] == "hybrid" and rec["significant"] is True
    assert rec["objective"]["hybrid"] > rec["objective"]["traditional"]
    # the point estimate from the per-request figures is the one from the table's figures
    assert rec["objective"]["hybrid"] == pytest.approx(objective(figures["hybrid"], Constraints()))
    assert any(r.startswith("hybrid is significantly ahead") for r in rec["reasons"])
    lo, hi = rec["vs_leader"]["traditional"]["ci95"]
    assert lo < rec["vs_leader"]["traditional"]["diff"] < hi < 0
    assert rec["requests"] == 800 and rec["users"] == 800 and rec["replicates"] == 1000
    # without per-request figures the leader wins, and the reasons say significance is untested
    bare = recommend(figures, Constraints())
    assert bare["choice"] == "hybrid" and bare["significant"] is None
    assert any("significance not tested" in r for r in bare["reasons"])


def test_changing_the_constraints_changes_the_recommendation() -> None:
    figures = _three()
    cheap = _rec(figures, Constraints(usd_per_request=0.0005))
    assert cheap["choice"] != "hybrid"
    assert any("hybrid is ruled out: cost" in r for r in cheap["reasons"]), cheap["reasons"]
    fast = _rec(figures, Constraints(p99_ms=50))
    assert fast["choice"] == "traditional"
    assert any("two_tower is ruled out: p99 60" in r for r in fast["reasons"])
    # weighting anonymous and weak users more moves the choice to what serves them best
    weak_heavy = _rec(figures, Constraints(weak_share=0.9))
    assert weak_heavy["choice"] == "traditional", weak_heavy["objective"]


def test_freshness_rules_a_variant_out() -> None:
    figures = _three()
    figures["hybrid"]["freshness"]["search"] = {"source": None, "p99_s": None}
    rec = _rec(figures)
    assert rec["choice"] != "hybrid"
    assert any("search: no source can propose a new item" in r for r in rec["reasons"])
    figures["traditional"]["freshness"]["feed"] = {"source": "bm25", "p99_s": 900.0}
    rec = _rec(figures)
    assert any(
        "traditional is ruled out: feed: new items eligible after 900" in r for r in rec["reasons"]
    )


def test_a_lead_within_the_noise_goes_to_the_simpler_variant() -> None:
    """hybrid leads by 0.5% of the objective; with per-request spread that lead is noise,
    the report says so with the interval and the request count, and the simpler variant wins.
    With the same lead measured without spread it is significant and hybrid wins."""
    same = {"anonymous": 0.1, "weak": 0.1, "heavy": 0.2}
    figures = {
        "traditional": variant("traditional", purchases=same),
        "hybrid": variant("hybrid", purchases={**same, "heavy": 0.201}),
    }
    rec = _rec(figures, noise=0.3)
    assert rec["leader"] == "hybrid" and rec["choice"] == "traditional"
    assert rec["significant"] is False and not rec["vs_leader"]["traditional"]["significant"]
    lo, hi = rec["vs_leader"]["traditional"]["ci95"]
    assert lo < 0 < hi
    said = next(r for r in rec["reasons"] if "not significantly ahead" in r)
    assert "hybrid is not significantly ahead of traditional" in said
    assert "800 requests from 800 users" in said and "fewest moving parts" in said
    assert f"[{lo:+.4f}, {hi:+.4f}]" in said
    precise = _rec(figures, noise=1e-4)
    assert precise["choice"] == "hybrid" and precise["significant"] is True


def test_identical_variants_are_not_significantly_different() -> None:
    """Two variants with the very same per-request figures: every replicate's difference is
    0, the interval is [0, 0], and the simpler of the two is chosen."""
    same = {"anonymous": 0.1, "weak": 0.12, "heavy": 0.2}
    figures = {
        "hybrid": variant("hybrid", purchases=same),
        "traditional": variant("traditional", purchases=same),
    }
    sample = sample_of(figures, noise=0.2)
    sample.values["purchases_per_request"][:, 1] = sample.values["purchases_per_request"][:, 0]
    rec = recommend(figures, Constraints(), sample)
    assert rec["significant"] is False and rec["choice"] == "traditional"
    other = next(iter(rec["vs_leader"].values()))
    assert other["ci95"] == [0.0, 0.0] and not other["significant"]


def test_quality_is_the_objective_without_an_outcome() -> None:
    """Imported data: no outcome figures, the objective is NDCG@10 with the same weighting,
    and the significance comes from per-request NDCG."""
    figures = _three()
    for v, ndcg in zip(figures.values(), (0.10, 0.20, 0.101), strict=True):
        v["outcome"] = {}
        for segs in v["quality"].values():
            for cell in segs.values():
                cell["ndcg@10"] = ndcg
        for segs in v["quality"].values():
            segs["all"] = {**segs["heavy"], "requests": sum(c["requests"] for c in segs.values())}
    sample = sample_of(figures, noise=0.2, key="ndcg@10", table="quality")
    assert not sample.has_outcome
    rec = recommend(figures, Constraints(), sample)
    assert rec["objective_metric"] == "ndcg@10"
    assert rec["leader"] == rec["choice"] == "two_tower" and rec["significant"] is True
    assert any(r.startswith("two_tower: 0.2000 NDCG@10") for r in rec["reasons"])
    # hybrid and traditional, 1% apart in the noise, without two_tower: the simpler one
    del figures["two_tower"]
    rec = recommend(
        figures, Constraints(), sample_of(figures, noise=0.2, key="ndcg@10", table="quality")
    )
    assert rec["leader"] == "hybrid" and rec["choice"] == "traditional"


def test_nothing_feasible_says_so() -> None:
    rec = _rec(_three(), Constraints(p99_ms=1.0))
    assert rec["choice"] is None and rec["reasons"][-1] == "no variant meets every constraint"


def test_objective_weights_weak_users_by_their_share() -> None:
    v = variant("traditional", purchases={"anonymous": 0.0, "weak": 0.0, "heavy": 1.0})
    assert abs(objective(v, Constraints(weak_share=0.35)) - 0.65) < 1e-9
    assert abs(objective(v, Constraints(weak_share=0.0)) - 1.0) < 1e-9


def test_a_variant_that_shows_few_new_items_gets_a_note() -> None:
    figures = _three()
    figures["hybrid"]["new_item_exposure"] = 0.18
    figures["traditional"]["new_item_exposure"] = 0.75
    rec = _rec(figures)
    assert rec["choice"] == "hybrid"
    assert any(r.startswith("new items: traditional shows 75%") for r in rec["reasons"])
