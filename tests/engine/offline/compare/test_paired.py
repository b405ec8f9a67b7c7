"""Per-request quality: the same definitions as the evaluation's means."""

from __future__ import annotations

import numpy as np

from engine.core.ranking_metrics import evaluate, relevant_from_lists
from engine.offline.compare.paired import quality_of


def test_per_request_quality_averages_to_the_evaluation_figures() -> None:
    rng = np.random.default_rng(0)
    pages, relevant = [], []
    for _ in range(300):
        page = rng.permutation(60)[: rng.integers(0, 12)]
        pages.append(page)
        relevant.append(rng.choice(60, rng.integers(1, 6), replace=False))
    mine = np.array([quality_of(p, r) for p, r in zip(pages, relevant, strict=True)])
    ranked = np.stack([np.pad(p[:10], (0, 10 - len(p[:10])), constant_values=-1) for p in pages])
    want = evaluate(ranked, relevant_from_lists(relevant), ks=(10,))
    assert np.allclose(mine.mean(0), [want["ndcg@10"], want["hr@10"], want["recall@10"]])
    assert quality_of(np.array([3, 4]), np.array([], np.int64)) == (0.0, 0.0, 0.0)
