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

    def segments(self) -> npt.NDArray[np.float32] | None:
        """Each request's ``segment`` feature (None without that column)."""
        if "segment" not in self.feature_names or self.n_requests == 0:
            return None
        starts = np.concatenate([[0], np.cumsum(self.group)[:-1]])
        out: npt.NDArray[np.float32] = self.X[starts, self.feature_names.index("segment")]
        return out

    def requests(self, keep: npt.NDArray[np.bool_]) -> TrainingSet:
        """The requests where ``keep`` (one flag per request) holds, in order."""
        rows = np.repeat(keep, self.group)
        return TrainingSet(
            self.X[rows], self.y[rows], self.group[keep], self.feature_names, self.window
        )

    def without(self, names: frozenset[str]) -> TrainingSet:
        """The set without the columns named in ``names`` (an ablation)."""
        keep = [j for j, n in enumerate(self.feature_names) if n not in names]
        return TrainingSet(
            self.X[:, keep],
            self.y,
            self.group,
            tuple(self.feature_names[j] for j in keep),
            self.window,
        )

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
        frame = hydrator.hydrate(ctx, sub, within=pool)
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
    segments = train.segments()
    if segments is None:
        return None
    anon = segments == 0
    n_anon = int(anon.sum())
    n_known = len(anon) - n_anon
    if n_anon == 0 or n_known == 0 or n_anon >= min_share * len(anon):
        return None
    w = min_share / (1 - min_share) * n_known / n_anon  # anonymous weight : signed-in weight
    return np.repeat(np.where(anon, w, 1.0), train.group).astype(np.float32)


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


#: the anonymous requests' own model: small trees (they are few), stopped on their own NDCG
ANONYMOUS_PARAMS: dict[str, float | int | str] = {"num_leaves": 7, "min_data_in_leaf": 5}
#: training and validation anonymous requests below which no model of their own is tried
MIN_ANONYMOUS = (100, 10)


def ndcg_at_10(scores: npt.NDArray[np.float64], train: TrainingSet) -> float:
    """Mean NDCG@10 over the requests of ``train`` ranked by ``scores`` (gain 2^grade - 1, as
    LightGBM's lambdarank metric)."""
    disc = 1.0 / np.log2(np.arange(2, 12))
    out = []
    start = 0
    for n in train.group.tolist():
        gain = 2 ** train.y[start : start + n].astype(np.float64) - 1
        order = np.argsort(-scores[start : start + n], kind="stable")[:10]
        ideal = float((np.sort(gain)[::-1][:10] * disc[: min(n, 10)]).sum())
        out.append(float((gain[order] * disc[: len(order)]).sum()) / ideal if ideal else 0.0)
        start += n
    return float(np.mean(out)) if out else 0.0


def anonymous_model(
    train: TrainingSet,
    valid: TrainingSet,
    general: lgb.Booster,
    params: dict[str, float | int | str],
    rounds: int,
) -> tuple[lgb.Booster | None, dict[str, float]]:
    """A model of the anonymous requests alone, kept when it ranks the anonymous validation
    requests better than ``general`` (the model of every request) does; None and no figures
    with too few of them. Anonymous shoppers have nothing but the basket so far: the features
    that matter for them (what is bought with it, what their audience buys) differ from a
    signed-in shopper's, and are a small share of the training set."""
    seg_t, seg_v = train.segments(), valid.segments()
    if seg_t is None or seg_v is None:
        return None, {}
    tr, va = train.requests(seg_t == 0), valid.requests(seg_v == 0)
    if tr.n_requests < MIN_ANONYMOUS[0] or va.n_requests < MIN_ANONYMOUS[1]:
        return None, {}
    names = list(train.feature_names)
    dtrain = lgb.Dataset(tr.X, tr.y, group=tr.group, feature_name=names, free_raw_data=False)
    dvalid = lgb.Dataset(va.X, va.y, group=va.group, reference=dtrain, feature_name=names)
    booster = lgb.train(
        {**params, **ANONYMOUS_PARAMS},
        dtrain,
        num_boost_round=rounds,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(40, verbose=False)],
    )
    own = ndcg_at_10(np.asarray(booster.predict(va.X)), va)
    other = ndcg_at_10(np.asarray(general.predict(va.X)), va)
    figures = {
        "anonymous_requests": float(tr.n_requests),
        "anonymous_valid_ndcg@10": own,
        "anonymous_valid_ndcg@10_general": other,
        "anonymous_best_iteration": float(booster.best_iteration or rounds),
    }
    return (booster if own > other else None), figures


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
    patience: int | None = 40,
) -> RankerArtifact:
    """Fit LambdaMART with early stopping on validation NDCG@10 (after ``patience`` rounds
    without a gain; None: all ``rounds``); refuses non-compliant features. Anonymous requests
    weigh at least ``audience_share`` of the training set (:func:`audience_weights`), and get a
    model of their own when it ranks them better (:func:`anonymous_model`)."""
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
        callbacks=[
            *([] if patience is None else [lgb.early_stopping(patience, verbose=False)]),
            lgb.record_evaluation(evals),
            tick,
        ],
    )
    bar.close()
    best = booster.best_iteration or rounds
    ndcg = evals["valid"]["ndcg@10"]
    anonymous, anonymous_figures = anonymous_model(train, valid, booster, p, rounds)
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
            **anonymous_figures,
            "anonymous_model": float(anonymous is not None),
        },
        lightgbm_version=lgb.__version__,
    )
    return RankerArtifact(booster, meta, anonymous=anonymous)
