from __future__ import annotations

import pytest

from engine.offline.compare.cost import CostInputs, bytes_per_item, project


def test_cost_scales_with_what_it_pays_for() -> None:
    inputs = CostInputs()
    base = project(10.0, 1000.0, [], inputs, embeds_text=False)
    assert base["jobs_usd_per_request"] == 0.0
    double_cpu = project(20.0, 1000.0, [], inputs, embeds_text=False)
    assert double_cpu["compute_usd_per_request"] == pytest.approx(
        2 * base["compute_usd_per_request"]
    )
    more_items = project(
        10.0, 1000.0, [], inputs.model_copy(update={"items": 2 * inputs.items}), embeds_text=False
    )
    assert more_items["memory_usd_per_request"] == pytest.approx(2 * base["memory_usd_per_request"])
    # 10 ms of CPU at $0.04 per vCPU-hour and 50% utilisation
    assert base["compute_usd_per_request"] == pytest.approx(0.010 * 0.04 / 3600 / 0.5)
    assert base["peak_serving_vcpus"] == round(180_000 * 0.010 / 0.5)
    jobs = project(10.0, 1000.0, ["ranker training"], inputs, embeds_text=True)
    per_day = 180_000 * 0.4 * 86_400
    text_hours = 4e6 / 70 / 3600
    assert jobs["jobs_usd_per_request"] == pytest.approx((4 + text_hours) * 0.04 / per_day)


def test_memory_per_item_counts_each_index_once() -> None:
    measured = {"catalog": 100.0, "lexical": 300.0, "graph": 256.0, "covis": 50.0}
    assert bytes_per_item(("bm25",), measured, 64) == 400.0
    assert bytes_per_item(("two_tower",), measured, 64) == 100 + 64 * 4 + 2 * 32 * 4
    both = bytes_per_item(("graph", "bought_together", "covis"), measured, 64)
    assert both == 100 + 256 + 50


def test_unknown_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="peak_rpz"):
        CostInputs.model_validate({"peak_rpz": 1})
