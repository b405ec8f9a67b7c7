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

from engine.core.pipeline.candidates import CandidatePool
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

    @staticmethod
    def concat(parts: list[TrainingSet]) -> TrainingSet:
        """The requests of ``parts`` (same columns), in order, as one set."""
        parts = [p for p in parts if p.n_requests]
        if not parts:
            raise ValueError("no logged request with a positive label in the training window")
        names = parts[0].feature_names
        if any(p.feature_names != names for p in parts):
            raise ValueError("training sets with different columns")
        return TrainingSet(
            np.concatenate([p.X for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.group for p in parts]),
            names,
            (min(p.window[0] for p in parts), max(p.window[1] for p in parts)),
        )


async def build_training_set(
    executor: Executor,
    hydrator: Hydrator,
    replay: LogReplay,
    requests: list[LoggedRequest],
    *,
    negatives: int = 20,
    negatives_per_positive: int = 6,
    seed: int = 0,
    progress: bool = True,
    desc: str = "features",
    advance: Callable[[float], Awaitable[None]] | None = None,
    require_positive: bool = True,
) -> TrainingSet:
    """Features of each logged request's impressed items plus sampled unimpressed candidates:
    ``negatives``, or ``negatives_per_positive`` per positive when more (a basket replayed
    from interactions has tens of positives: a fixed count would leave the ranker few items to
    tell them from); ``advance`` brings the online state to each request's time.
    Without a request with a positive: ValueError, or (``require_positive=False``) an empty
    set, which :meth:`TrainingSet.concat` leaves out."""
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
        # what the scorer would see: the sources' candidates after the pre-filters
        pool = executor.prefilter(ctx, await executor.retrieve(ctx, [], lost))
        degraded += bool(lost)
        n_pos = int(np.count_nonzero(lr.grades > 0))
        extra = _negatives(pool, lr.rows, max(negatives, negatives_per_positive * n_pos), rng)
        if lr.impressed:  # a served page's items were candidates then, proposed or not
            pool = pool.with_rows(lr.rows)
        # else only the positives the pipeline retrieves: one no source proposes can never be
        # ranked, and would teach the ranker that "no source proposed it" means relevant
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
        if require_positive:
            raise ValueError("no logged request with a positive label in the training window")
        return TrainingSet(
            np.zeros((0, 0), np.float32), np.zeros(0, np.int8), np.zeros(0, np.int64), (), (0, 0)
        )
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


def _negatives(
    pool: CandidatePool, positives: npt.NDArray[np.int64], n: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """``n`` candidates of ``pool`` that are not ``positives``, drawn uniformly."""
    rows = pool.rows[~np.isin(pool.rows, positives)]
    if n <= 0 or len(rows) == 0:
        return rows[:0]
    return rng.choice(rows, min(n, len(rows)), replace=False).astype(np.int64)


def audience_weights(train: TrainingSet, min_share: float) -> npt.NDArray[np.float32] | None:
    """Row weights giving the anonymous requests (``segment`` 0) at least ``min_share`` of the
    requests' total weight, or None (all equal) when they have it already, or there are none
    or only them. Anonymous shoppers are a minority of the requests but need their own ranking
    (nothing but the basket so far to go on, other items bought), which a ranker fitted to the
    traffic's mix neglects; the evaluation reports them separately."""
    if "segment" not in train.feature_names or train.n_requests == 0:
        return None
    seg = train.X[:, train.feature_names.index("segment")]
    starts = np.concatenate([[0], np.cumsum(train.group)[:-1]])
    anon = seg[starts] == 0  # one segment per request
    n_anon = int(anon.sum())
    n_known = len(anon) - n_anon
    if n_anon == 0 or n_known == 0 or n_anon >= min_share * len(anon):
        return None
    w = min_share / (1 - min_share) * n_known / n_anon  # anonymous weight : signed-in weight
    return np.where(seg == 0, w, 1.0).astype(np.float32)


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
    audience_share: float = 1 / 3,
    rounds: int = 400,
    seed: int = 0,
    params: dict[str, float | int | str] | None = None,
    progress: bool = True,
) -> RankerArtifact:
    """Fit LambdaMART with early stopping on validation NDCG@10; refuses non-compliant features.
    Anonymous requests weigh at least ``audience_share`` of the training set
    (:func:`audience_weights`)."""
    check_feature_set(
        [f.use() for f in features], declared_aggregations(min_support), min_support=min_support
    )
    if train.feature_names != tuple(f.name for f in features):
        raise ValueError("training set columns do not match the feature list")
    p = {**DEFAULT_PARAMS, **(params or {}), "seed": seed, "deterministic": "true"}
    names = list(train.feature_names)
    weights = audience_weights(train, audience_share)
    dtrain = lgb.Dataset(
        train.X, train.y, weight=weights, group=train.group, feature_name=names, free_raw_data=False
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
