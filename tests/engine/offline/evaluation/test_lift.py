"""Lifts over the baselines: paired, relative, with an interval that covers the noise."""

import numpy as np
import pytest

from engine.offline.evaluation.lift import PER_REQUEST, drop_per_request, lifts, relative_lift
from engine.offline.evaluation.report import format_synthetic


def test_relative_lift_of_a_uniform_gain_is_exact() -> None:
    base = np.linspace(0.1, 0.9, 50)
    lift, lo, hi = relative_lift(base * 1.25, base)
    assert lift == pytest.approx(0.25) and lo == pytest.approx(0.25) and hi == pytest.approx(0.25)


def test_relative_lift_interval_covers_noise_and_shrinks_with_requests() -> None:
    rng = np.random.default_rng(1)
    widths = []
    for n in (50, 2000):
        base = rng.random(n)
        ours = base * 1.2 + rng.normal(0, 0.3, n)
        lift, lo, hi = relative_lift(ours, base)
        assert lo < lift < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 3
    assert np.isnan(relative_lift([0.5], [0.0])[0])  # nothing to be above
    with pytest.raises(ValueError, match="unpaired"):
        relative_lift([0.1, 0.2], [0.1])


def _cell(values: list[float]) -> dict[str, object]:
    return {
        "requests": len(values),
        "ndcg@10": float(np.mean(values)),
        "recall@10": 0.0,
        "source_recall": {"all_sources": 0.0},
        PER_REQUEST: values,
    }


def test_lifts_pair_every_pipeline_with_every_baseline_and_print() -> None:
    report = {
        "requests": 4,
        "degraded": {"lambdamart": 0},
        "lambdamart": {
            "feed": {"anonymous": _cell([0.6, 0.6]), "all": _cell([0.6, 0.6, 0.3, 0.3])}
        },
        "baseline:popular": {
            "feed": {"anonymous": _cell([0.5, 0.5]), "all": _cell([0.5, 0.5, 0.1, 0.1])}
        },
    }
    out = lifts(report)
    assert list(out) == ["lambdamart / baseline:popular"]
    cells = out["lambdamart / baseline:popular"]["feed"]
    assert cells["anonymous"]["lift"] == pytest.approx(0.2)
    assert cells["all"]["lift"] == pytest.approx(0.5) and cells["all"]["requests"] == 4
    drop_per_request(report)
    assert PER_REQUEST not in report["lambdamart"]["feed"]["all"]  # type: ignore[index]
    report["lift"] = out
    text = format_synthetic(report)
    assert "lambdamart / baseline:popular" in text and "+20.0%" in text and "+50.0%" in text
