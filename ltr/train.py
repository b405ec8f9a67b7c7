"""LambdaMART training from logged impressions grouped by request.

Features come from the serving code path: each logged request is replayed into a
RequestContext, the pipeline's candidate sources run on it, and the pipeline's hydrator
computes the features of the impressed items (plus sampled unimpressed candidates as
negatives, so the ranker also learns to push down what retrieval adds).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from engine.core.pipeline.executor import Executor
from engine.core.pipeline.stages import Hydrator
from ltr.artifact import RankerArtifact, RankerMeta, new_version
from ltr.compliance import check_feature_set, declared_aggregations
from ltr.features import Feature
from ltr.logs import LoggedRequest, LogReplay

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingSet:
    X: npt.NDArray[np.float32]
    y: npt.NDArray[np.int8]
    group: npt.NDArray[np.int64]  # rows per request, in order
    feature_names: tuple[str, ...]
    window: tuple[float, float]

    @property
    def n_requests(self) -> int:
        return len(self.group)


async def build_training_set(
    executor: Executor,
    hydrator: Hydrator,
    replay: LogReplay,
    requests: list[LoggedRequest],
    *,
    negatives: int = 20,
    retrieved_only: bool = False,
    seed: int = 0,
    progress: bool = True,
    desc: str = "features",
    advance: Callable[[float], Awaitable[None]] | None = None,
) -> TrainingSet:
    """Features of each logged request's impressed items plus ``negatives`` sampled
    unimpressed candidates; ``advance`` brings the online state to each request's time.
    ``retrieved_only``: positives the pipeline's sources did not propose are left out (for
    requests replayed from interactions: a positive no source found has no source scores at
    all, which nothing in serving ever has, and would teach the ranker that emptiness)."""
    rng = np.random.default_rng(seed)
    xs: list[npt.NDArray[np.float32]] = []
    ys: list[npt.NDArray[np.int8]] = []
    group: list[int] = []
    names: tuple[str, ...] = ()
    degraded = 0
    for lr in tqdm(requests, desc=desc, unit="req", disable=not progress):
        if advance is not None:
            await advance(lr.ts)
        ctx = replay.context(lr)
        lost: list[str] = []
        pool = await executor.retrieve(ctx, [], lost)
        degraded += bool(lost)
        extra = np.setdiff1d(pool.rows, lr.rows)
        if negatives and len(extra):
            extra = rng.choice(extra, min(negatives, len(extra)), replace=False)
        else:
            extra = extra[:0]
        if not retrieved_only:
            pool = pool.with_rows(lr.rows)
        keep = np.isin(pool.rows, np.concatenate([lr.rows, extra]))
        sub = pool.take(keep)
        frame = hydrator.hydrate(ctx, sub)
        grade_of = dict(zip(lr.rows.tolist(), lr.grades.tolist(), strict=True))
        y = np.array([grade_of.get(int(r), 0) for r in sub.rows], np.int8)
        if y.max(initial=0) == 0:
            continue
        names = frame.names
        xs.append(frame.values)
        ys.append(y)
        group.append(len(y))
    if not group:
        raise ValueError("no logged request with a positive label in the training window")
    if degraded:
        log.warning(
            "%s: %d of %d requests lost a candidate source (deadline or failure); their "
            "features miss those candidates",
            desc,
            degraded,
            len(requests),
        )
    window = (min(r.ts for r in requests), max(r.ts for r in requests))
    return TrainingSet(
        np.concatenate(xs), np.concatenate(ys), np.asarray(group, np.int64), names, window
    )


DEFAULT_PARAMS: dict[str, float | int | str] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": "10",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 20,
    "num_threads": 2,
    "verbose": -1,
}


def train_ranker(
    train: TrainingSet,
    valid: TrainingSet,
    features: list[Feature],
    source_names: tuple[str, ...],
    *,
    min_support: int,
    rounds: int = 400,
    seed: int = 0,
    params: dict[str, float | int | str] | None = None,
    progress: bool = True,
) -> RankerArtifact:
    """Fit LambdaMART with early stopping on validation NDCG@10; refuses non-compliant features."""
    check_feature_set(
        [f.use() for f in features], declared_aggregations(min_support), min_support=min_support
    )
    if train.feature_names != tuple(f.name for f in features):
        raise ValueError("training set columns do not match the feature list")
    p = {**DEFAULT_PARAMS, **(params or {}), "seed": seed, "deterministic": "true"}
    names = list(train.feature_names)
    dtrain = lgb.Dataset(
        train.X, train.y, group=train.group, feature_name=names, free_raw_data=False
    )
    dvalid = lgb.Dataset(valid.X, valid.y, group=valid.group, reference=dtrain, feature_name=names)
    evals: dict[str, dict[str, list[float]]] = {}
    bar = tqdm(total=rounds, desc="lambdamart", unit="tree", disable=not progress)

    def tick(env: lgb.callback.CallbackEnv) -> None:
        bar.update(1)

    booster = lgb.train(
        p,
        dtrain,
        num_boost_round=rounds,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(40, verbose=False), lgb.record_evaluation(evals), tick],
    )
    bar.close()
    best = booster.best_iteration or rounds
    ndcg = evals["valid"]["ndcg@10"]
    meta = RankerMeta(
        version=new_version(),
        created_at=datetime.now(UTC),
        feature_names=names,
        source_names=list(source_names),
        train_window=train.window,
        n_requests=train.n_requests,
        n_rows=len(train.y),
        params={k: v for k, v in p.items()},
        metrics={
            "valid_ndcg@10": float(ndcg[best - 1]),
            "best_iteration": float(best),
            "valid_ndcg@10_first_tree": float(ndcg[0]),
        },
        lightgbm_version=lgb.__version__,
    )
    return RankerArtifact(booster, meta)
