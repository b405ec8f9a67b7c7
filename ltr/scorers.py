"""Scorers: the LambdaMART artifact, and a popularity-aware heuristic used when there is none."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32
from engine.core.pipeline.stages import FeatureFrame
from ltr.artifact import RankerArtifact
from ltr.compiled import compile_model


class LambdaMartScorer:
    name = "lambdamart"

    def __init__(self, artifact: RankerArtifact, compiled: bool = True) -> None:
        self.artifact = artifact
        self.version = artifact.version
        self._names = tuple(artifact.meta.feature_names)
        self._compiled = None
        if compiled and artifact.path is not None:
            self._compiled = compile_model(artifact.path / "model.txt")

    def _matrix(self, frame: FeatureFrame) -> F32:
        if frame.names != self._names:
            raise ValueError(
                f"feature mismatch: model {self.version} expects {self._names}, got {frame.names}"
            )
        return frame.values

    def score(self, frame: FeatureFrame) -> F32:
        if len(frame.values) == 0:
            return np.zeros(0, np.float32)
        x = self._matrix(frame)
        if self._compiled is not None:
            return self._compiled.predict(x)
        return np.asarray(self.artifact.booster.predict(x, num_threads=1), dtype=np.float32)

    def contributions(self, frame: FeatureFrame, idx: npt.NDArray[np.int64]) -> F32:
        if len(idx) == 0:
            return np.zeros((0, len(frame.names)), np.float32)
        out = self.artifact.booster.predict(
            self._matrix(frame)[idx], pred_contrib=True, num_threads=1
        )
        return np.asarray(out, dtype=np.float32)[:, :-1]  # drop the bias column


class HeuristicScorer:
    """Reciprocal-rank fusion of the sources plus popularity and query coverage.

    score = sum_s 1 / (60 + rank_s) + 0.002 * log_popularity + 0.01 * query_coverage
    """

    name = "heuristic"
    version = "heuristic-1"
    weights: ClassVar[dict[str, float]] = {
        "log_popularity": 0.002,
        "query_coverage": 0.01,
        "category_affinity": 0.004,
    }

    def _parts(self, frame: FeatureFrame) -> F32:
        names = frame.names
        cols = []
        for j, n in enumerate(names):
            if n.startswith("src_") and n.endswith("_rank"):
                rank = np.expm1(frame.values[:, j])  # features store log1p(rank)
                cols.append(np.where(np.isnan(rank), 0.0, 1.0 / (60.0 + rank)))
            elif n in self.weights:
                cols.append(self.weights[n] * np.nan_to_num(frame.values[:, j]))
            else:
                cols.append(np.zeros(len(frame.values)))
        return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((0, 0), np.float32)

    def score(self, frame: FeatureFrame) -> F32:
        if len(frame.values) == 0:
            return np.zeros(0, np.float32)
        out: F32 = self._parts(frame).sum(axis=1).astype(np.float32)
        return out

    def contributions(self, frame: FeatureFrame, idx: npt.NDArray[np.int64]) -> F32:
        if len(frame.values) == 0:
            return np.zeros((0, len(frame.names)), np.float32)
        return self._parts(frame)[idx]
