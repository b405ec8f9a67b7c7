"""Scorers: the LambdaMART artifact, and a popularity-aware heuristic used when there is none."""

from __future__ import annotations

from typing import ClassVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from engine.core.arrays import F32
from engine.core.pipeline.stages import FeatureFrame
from ltr.artifact import ANONYMOUS_FILE, RankerArtifact
from ltr.compiled import CompiledModel, compile_model


class LambdaMartScorer:
    """Scores with the artifact's model; the rows of anonymous requests (``segment`` 0) with
    its anonymous model when it has one."""

    name = "lambdamart"

    def __init__(self, artifact: RankerArtifact, compiled: bool = True) -> None:
        self.artifact = artifact
        self.version = artifact.version
        self._names = tuple(artifact.meta.feature_names)
        self._compiled: dict[bool, CompiledModel | None] = {False: None, True: None}
        self._segment = self._names.index("segment") if "segment" in self._names else None
        if compiled and artifact.path is not None:
            self._compiled[False] = compile_model(artifact.path / "model.txt")
            if artifact.anonymous is not None:
                self._compiled[True] = compile_model(artifact.path / ANONYMOUS_FILE)

    def _matrix(self, frame: FeatureFrame) -> F32:
        if frame.names != self._names:
            raise ValueError(
                f"feature mismatch: model {self.version} expects {self._names}, got {frame.names}"
            )
        return frame.values

    def _anonymous_rows(self, x: F32) -> npt.NDArray[np.bool_]:
        if self.artifact.anonymous is None or self._segment is None:
            return np.zeros(len(x), np.bool_)
        return np.asarray(x[:, self._segment] == 0)

    def _booster(self, anonymous: bool) -> lgb.Booster:
        model = self.artifact.anonymous if anonymous else self.artifact.booster
        assert model is not None  # anonymous rows exist only with the anonymous model
        return model

    def score(self, frame: FeatureFrame) -> F32:
        if len(frame.values) == 0:
            return np.zeros(0, np.float32)
        x = self._matrix(frame)
        anon = self._anonymous_rows(x)
        out = np.empty(len(x), np.float32)
        for which in (False, True):
            rows = anon == which
            if not rows.any():
                continue
            compiled = self._compiled[which]
            if compiled is not None:
                out[rows] = compiled.predict(x[rows])
            else:
                out[rows] = self._booster(which).predict(x[rows], num_threads=1)
        return out

    def contributions(self, frame: FeatureFrame, idx: npt.NDArray[np.int64]) -> F32:
        if len(idx) == 0:
            return np.zeros((0, len(frame.names)), np.float32)
        x = self._matrix(frame)[idx]
        anon = self._anonymous_rows(x)
        out = np.empty((len(x), len(frame.names)), np.float32)
        for which in (False, True):
            rows = anon == which
            if rows.any():
                c = self._booster(which).predict(x[rows], pred_contrib=True, num_threads=1)
                out[rows] = np.asarray(c, dtype=np.float32)[:, :-1]  # drop the bias column
        return out


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
