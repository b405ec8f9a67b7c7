"""Behavioural signals split by audience: popularity among anonymous and signed-in shoppers
counts each event once, in its audience, and survives a save, a load and catalog growth."""

from pathlib import Path

import numpy as np

from engine.core.signals import DAY, Signals

TS = np.array([0.0, 0.0, 0.0, 0.0])
ITEM = np.array([0, 0, 1, 2], np.int32)
KIND = np.array([3, 1, 3, 0], np.int8)  # purchase, click, purchase, impression
CATS = np.zeros(3, np.int32)
ANON = np.array([True, False, False, True])


def test_popularity_by_audience_splits_the_weighted_events() -> None:
    sig = Signals.build(TS, ITEM, KIND, CATS, now=DAY, anonymous=ANON)
    assert sig.audience is not None and sig.audience.shape == (2, 3)
    half = 0.5 ** (1 / 7)  # a day of a 7-day half-life
    np.testing.assert_allclose(sig.audience[0], [6 * half, 0, 0], rtol=1e-5)  # the purchase
    np.testing.assert_allclose(sig.audience[1], [1 * half, 6 * half, 0], rtol=1e-5)
    assert Signals.build(TS, ITEM, KIND, CATS, now=DAY).audience is None  # not asked for


def test_audience_survives_save_load_and_growth(tmp_path: Path) -> None:
    sig = Signals.build(TS, ITEM, KIND, CATS, now=DAY, anonymous=ANON)
    sig.save(tmp_path)
    back = Signals.load(tmp_path)
    assert back.audience is not None
    np.testing.assert_allclose(back.audience, sig.audience)
    back.resize(np.zeros(5, np.int32))
    assert back.audience.shape == (2, 5) and back.audience[:, 3:].sum() == 0
