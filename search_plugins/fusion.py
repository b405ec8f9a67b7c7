"""Hybrid retrieval: fuse a lexical and a vector result list into one ranking.

Two methods, both pure functions over :class:`~engine.core.search.Hits`:

* ``rrf``: reciprocal rank fusion, ``sum_i w_i / (k + rank_i)``; needs no score calibration.
* ``minmax``: min-max normalised scores, weighted and summed. One extreme score (a BM25 title
  match far above the rest) would squash every other score of its list towards 0, so the upper
  anchor is guarded: when the top score stands far above the rest of the list (more than
  ``outlier_iqr`` inter-quartile ranges above the upper quartile), the anchor becomes the
  highest score that does not, and scores above it are clipped to 1.

:func:`hybrid` runs both searches through ``lexical_and_vector`` (one ``_msearch`` on
OpenSearch) and fuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.core.arrays import F32
from engine.core.search import Hits, SearchFilter, SearchIndex

Method = Literal["rrf", "minmax"]


@dataclass(frozen=True, slots=True)
class FusionParams:
    method: Method = "rrf"
    rrf_k: int = 60
    weights: tuple[float, float] = (1.0, 1.0)  # lexical, vector
    outlier_iqr: float = 3.0


def _fuse(lists: Sequence[Hits], values: Sequence[F32], k: int) -> Hits:
    total: dict[str, float] = {}
    for hits, vals in zip(lists, values, strict=True):
        for doc_id, v in zip(hits.ids, vals.tolist(), strict=True):
            total[doc_id] = total.get(doc_id, 0.0) + v
    best = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return Hits([i for i, _ in best], np.array([s for _, s in best], dtype=np.float32))


def rrf(lists: Sequence[Hits], k: int, *, rrf_k: int = 60, weights: Sequence[float] = ()) -> Hits:
    w = list(weights) or [1.0] * len(lists)
    values = [
        (wi / (rrf_k + np.arange(1, len(h) + 1, dtype=np.float64))).astype(np.float32)
        for h, wi in zip(lists, w, strict=True)
    ]
    return _fuse(lists, values, k)


def guarded_minmax(scores: F32, outlier_iqr: float = 3.0) -> F32:
    """Scores mapped to [0, 1]; an outlying top score does not set the scale."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0:
        return np.zeros(0, dtype=np.float32)
    lo = float(s.min())
    hi = float(s.max())
    if len(s) >= 4:
        q1, q3 = np.quantile(s, [0.25, 0.75])
        fence = q3 + outlier_iqr * max(q3 - q1, 1e-12)
        inside = s[s <= fence]
        if len(inside) and inside.max() > lo:
            hi = float(inside.max())
    if hi <= lo:
        return np.ones(len(s), dtype=np.float32)
    return np.clip((s - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def minmax(
    lists: Sequence[Hits], k: int, *, weights: Sequence[float] = (), outlier_iqr: float = 3.0
) -> Hits:
    w = list(weights) or [1.0] * len(lists)
    values = [
        (wi * guarded_minmax(h.scores, outlier_iqr)).astype(np.float32)
        for h, wi in zip(lists, w, strict=True)
    ]
    return _fuse(lists, values, k)


def fuse(lexical: Hits, vector: Hits, k: int, params: FusionParams | None = None) -> Hits:
    p = params or FusionParams()
    if p.method == "rrf":
        return rrf([lexical, vector], k, rrf_k=p.rrf_k, weights=p.weights)
    return minmax([lexical, vector], k, weights=p.weights, outlier_iqr=p.outlier_iqr)


async def hybrid(
    index: SearchIndex,
    query: str,
    vector: F32,
    k: int,
    flt: SearchFilter | None = None,
    model: str = "",
    params: FusionParams | None = None,
) -> Hits:
    lexical, dense = await index.lexical_and_vector(query, vector, k, flt, model)
    return fuse(lexical, dense, k, params)
