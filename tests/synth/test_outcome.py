"""The expected-response model against what the generator's own users did."""

from __future__ import annotations

import numpy as np

from synth import SynthDataset
from synth.outcome import ResponseModel
from synth.truth import HiddenTruth

IMPRESSION, CLICK, PURCHASE = 0, 1, 3


def _logged_pages(ds: SynthDataset) -> list[tuple[int, np.ndarray]]:
    e = ds.events
    imp = e["kind"] == IMPRESSION
    req, item, pos = e["request"][imp], e["item"][imp], e["position"][imp]
    order = np.lexsort((pos, req))
    req, item = req[order], item[order]
    cuts = np.flatnonzero(np.diff(req)) + 1
    return [
        (int(r[0]), it) for r, it in zip(np.split(req, cuts), np.split(item, cuts), strict=True)
    ]


def test_expected_responses_match_the_logged_ones(ds: SynthDataset, hidden: HiddenTruth) -> None:
    """Summed over the logged pages, expected clicks and purchases are within 15% of the
    clicks and purchases the simulated users made (the model leaves out two small terms)."""
    model = ResponseModel(hidden)
    clicks = purchases = 0.0
    for request, items in _logged_pages(ds):
        out = model.page(request, int(hidden.requests["user"][request]), items)
        clicks += out.clicks
        purchases += out.purchases
    actual_clicks = int((ds.events["kind"] == CLICK).sum())
    actual_purchases = int((ds.events["kind"] == PURCHASE).sum())
    assert abs(clicks / actual_clicks - 1) < 0.15, (clicks, actual_clicks)
    assert abs(purchases / actual_purchases - 1) < 0.15, (purchases, actual_purchases)


def test_a_better_order_earns_more(ds: SynthDataset, hidden: HiddenTruth) -> None:
    """The same items sorted by true utility earn more than in reverse, and position matters."""
    model = ResponseModel(hidden)
    request, items = _logged_pages(ds)[0]
    user = int(hidden.requests["user"][request])
    best = items[np.argsort(-model.utility(request, user, items))]
    good, bad = model.page(request, user, best), model.page(request, user, best[::-1])
    assert good.clicks > bad.clicks and good.purchases >= bad.purchases
    assert model.page(request, user, best[:0]).clicks == 0.0
    p = model.click_probability(request, user, best)
    assert np.all((p > 0) & (p < 1)) and p[0] >= p[-1]


def test_sampled_responses_average_to_the_logged_rates(
    ds: SynthDataset, hidden: HiddenTruth
) -> None:
    """Simulated responses to the logged pages (with the generator's noise) click about as
    often as the logged users did."""
    model = ResponseModel(hidden)
    rng = np.random.default_rng(0)
    clicks = 0
    for request, items in _logged_pages(ds):
        click, buy = model.sample(request, int(hidden.requests["user"][request]), items, rng)
        assert not (buy & ~click).any()  # no purchase without a click
        clicks += int(click.sum())
    actual = int((ds.events["kind"] == CLICK).sum())
    assert abs(clicks / actual - 1) < 0.1, (clicks, actual)
