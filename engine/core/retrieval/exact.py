"""Exact top-k over a vector of scores (the in-memory counterpart of an ANN search)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def top_k(
    scores: npt.NDArray[np.floating], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Positions and values of the ``k`` best finite scores, best first (ties: lower position)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[np.isfinite(scores[part])]
    order = part[np.argsort(-scores[part], kind="stable")]
    return order.astype(np.int64), scores[order].astype(np.float32)
