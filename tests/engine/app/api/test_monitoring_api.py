"""Drift gauges in GET /metrics: recent logged rows against the served ranker's reference."""

import httpx
import numpy as np

from engine.serving.drift import Reference
from engine.serving.service import Engine
from tests.engine.world import CASES, DECOR, PHONES


async def test_metrics_carry_feature_log_and_drift_gauges(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    engine.feature_log.rate = 1.0
    assert engine.drift.ranker() is None  # no reference yet
    for i, it in enumerate([*PHONES, *DECOR, *CASES]):
        await client.post(
            "/v1/feed", json={"session_items": [it.id]}, headers={"x-request-id": f"r{i}"}
        )
    text = (await client.get("/metrics")).text
    n = len(PHONES + DECOR + CASES)
    assert f"shopnow_feature_log_records {float(n)}" in text
    assert "shopnow_feature_psi{" not in text
    # a reference made of the same rows: nothing drifts
    rows = list(engine.feature_log.recent)
    engine.drift.reference = Reference.build(
        rows[0][1],
        np.concatenate([r[2] for r in rows]),
        np.concatenate([r[3] for r in rows]),
        engine.spec.source_names,
        np.concatenate([r[4] for r in rows]),
        (0.0, 1.0),
    )
    text = (await client.get("/metrics")).text
    assert 'shopnow_feature_psi{feature="segment"} 0.0' in text
    assert "shopnow_drift_alerts 0.0" in text and "shopnow_score_psi 0.0" in text
