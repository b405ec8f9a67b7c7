from pathlib import Path

import numpy as np
import pytest

from engine.serving.drift import Dist, Reference, drift_report, ks, psi

RNG = np.random.default_rng(0)


def test_psi_and_ks_are_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    ref = Dist.of(RNG.normal(0, 1, 20_000))
    same, moved = RNG.normal(0, 1, 5000), RNG.normal(1, 1, 5000)
    assert psi(ref.shares, ref.histogram(same)) < 0.02 and ks(ref.sample, same) < 0.05
    assert psi(ref.shares, ref.histogram(moved)) > 0.5 and ks(ref.sample, moved) > 0.3
    # missing values are a bin of their own: a feature that goes missing drifts
    assert psi(ref.shares, ref.histogram(np.full(100, np.nan))) > 1.0
    assert ks(ref.sample, np.full(100, np.nan)) == 0.0  # nothing present to compare


def _reference(n: int = 4000) -> Reference:
    values = np.stack([RNG.normal(0, 1, n), RNG.integers(0, 3, n)], axis=1).astype(np.float32)
    presence = (RNG.random((n, 2)) < [0.8, 0.3]).astype(np.float32)
    return Reference.build(
        ("a", "b"), values, RNG.normal(0, 1, n).astype(np.float32), ("s1", "s2"), presence, (0, 1)
    )


def test_reference_round_trips(tmp_path: Path) -> None:
    ref = _reference()
    ref.save(tmp_path / "ref.json")
    back = Reference.load(tmp_path / "ref.json")
    assert back.feature_names == ("a", "b") and back.source_names == ("s1", "s2")
    np.testing.assert_allclose(back.features["a"].shares, ref.features["a"].shares)
    np.testing.assert_allclose(back.mix, ref.mix)
    assert back.rows == ref.rows and back.window == (0.0, 1.0)


def test_the_shifted_feature_and_the_source_mix_alert() -> None:
    ref = _reference()
    n = 2000
    live = np.stack([RNG.normal(0, 1, n), RNG.integers(0, 3, n)], axis=1).astype(np.float32)
    scores = RNG.normal(0, 1, n).astype(np.float32)
    presence = (RNG.random((n, 2)) < [0.8, 0.3]).astype(np.float32)
    calm = drift_report(ref, ("a", "b"), live, scores, ("s1", "s2"), presence)
    assert calm["alerts"] == [], calm
    live[:, 1] += 2  # b moves
    presence[:, 0] = 0  # s1 stops proposing
    rep = drift_report(ref, ("a", "b"), live, scores, ("s1", "s2"), presence)
    assert rep["alerts"] == ["feature b", "source mix"]
    assert rep["features"]["b"]["psi"] > 1 and rep["features"]["a"]["alert"] is False
    assert rep["source_mix"]["live"] == {"s1": 0.0, "s2": 1.0}
    # live sources in another order (or one more) are aligned by name
    swapped = drift_report(ref, ("b", "a"), live[:, ::-1], scores, ("s2", "s1"), presence[:, ::-1])
    assert swapped["alerts"] == ["feature b", "source mix"]
    assert swapped["features"]["b"]["psi"] == pytest.approx(rep["features"]["b"]["psi"])
