"""A search ranker learned from graded judgments, and its cross-validated figure.

Each judged query runs through the served engine up to the scorer: the sources' candidates,
after the pre-filters, get the served features (the hydrator of ``POST /v1/search``); a
candidate's label is its grade, 0 when unjudged, as the evaluation counts it. LambdaMART
(:func:`ltr.train.train_ranker`, its compliance check included) learns on these with small
trees and a fixed number of rounds: judgments cover tens of queries, too few to hold some out
for early stopping (on Icecat's 68 queries, stopping on a fifth of the training queries
ranked worse than a fixed count). The artifact's validation figure is therefore in-sample; the
honest one is the cross-validated ``shopnow eval --judgments --cv``.

Cross-validation splits the queries into ``k`` folds; the queries of a fold are ranked by the
served pipeline whose scorer is the ranker trained on the other folds only, so no query is
ranked by a model that saw its judgments.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.core.contracts import SearchRequest
from engine.serving.context_builder import build_context
from engine.serving.service import Engine
from engine.serving.sources.registry import SOURCE_NAMES
from ltr.artifact import RankerArtifact
from ltr.features import Feature, FeatureHydrator, default_feature_names, resolve
from ltr.scorers import LambdaMartScorer
from ltr.train import TrainingSet, train_ranker

#: LambdaMART for tens of queries: small trees, many rows per leaf
JUDGED_PARAMS: dict[str, float | int | str] = {
    "num_leaves": 7,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
}
ROUNDS = 200
JUDGED_QUERIES = "judged_queries"  # the artifact's metric naming a ranker learned from judgments
MIN_QUERIES = 5  # with a grade above 0 among the candidates, to train at all


async def judged_set(
    engine: Engine,
    judgments: dict[str, dict[str, int]],
    queries: list[str],
    without: frozenset[str] = frozenset(),
) -> TrainingSet:
    """Every candidate of each query with its features (but ``without``) and grade (0 when
    unjudged); queries whose candidates hold no grade above 0 teach nothing and are left out."""
    xs: list[npt.NDArray[np.float32]] = []
    ys: list[npt.NDArray[np.int8]] = []
    group: list[int] = []
    names: tuple[str, ...] = ()
    executor = engine.executor
    hydrator = executor.spec.hydrator
    if isinstance(hydrator, FeatureHydrator):  # every feature, whatever the served ranker reads
        hydrator = hydrator.with_features(features_of(default_feature_names(SOURCE_NAMES)))
    for q in queries:
        ctx = await build_context(SearchRequest(query=q), engine.catalog, engine.store, [])
        ctx = ctx.spelled(engine.speller())  # as served: the query the pipeline searches
        pool = executor.prefilter(ctx, await executor.retrieve(ctx, [], []))
        grades = judgments.get(q, {})
        y = np.array([grades.get(engine.catalog.ids[r], 0) for r in pool.rows], np.int8)
        if y.max(initial=0) <= 0:
            continue
        frame = hydrator.hydrate(ctx, pool)
        keep = [j for j, n in enumerate(frame.names) if n not in without]
        names = tuple(frame.names[j] for j in keep)
        xs.append(frame.values[:, keep])
        ys.append(y)
        group.append(len(y))
    if not group:
        return TrainingSet(
            np.zeros((0, 0), np.float32), np.zeros(0, np.int8), np.zeros(0, np.int64), (), (0, 0)
        )
    return TrainingSet(
        np.concatenate(xs), np.concatenate(ys), np.asarray(group, np.int64), names, (0.0, 0.0)
    )


def folds(queries: list[str], k: int, seed: int) -> list[list[str]]:
    """``k`` disjoint folds of the queries, shuffled by ``seed``."""
    if not 2 <= k <= len(queries):
        raise ValueError(f"cross-validation needs 2 <= k <= {len(queries)} queries, got k={k}")
    order = np.random.default_rng(seed).permutation(len(queries))
    return [[queries[i] for i in part] for part in np.array_split(order, k)]


async def fit(
    engine: Engine,
    judgments: dict[str, dict[str, int]],
    queries: list[str],
    *,
    seed: int = 0,
    min_support: int,
    without: frozenset[str] = frozenset(),
) -> RankerArtifact:
    """LambdaMART on ``queries``' judgments (:data:`ROUNDS` rounds), without the features
    named in ``without`` (an ablation)."""
    unknown = sorted(without - set(default_feature_names(SOURCE_NAMES)))
    if unknown:
        raise ValueError(f"unknown features {unknown}")
    train = await judged_set(engine, judgments, queries, without)
    if train.n_requests < MIN_QUERIES:
        raise ValueError(
            f"{train.n_requests} queries have a judged result above grade 0 among their "
            f"candidates; need >= {MIN_QUERIES}"
        )
    artifact = train_ranker(
        train,
        train,
        features_of(train.feature_names),
        SOURCE_NAMES,
        min_support=min_support,
        seed=seed,
        params=JUDGED_PARAMS,
        progress=False,
        rounds=ROUNDS,
        patience=None,
    )
    metrics = dict(artifact.meta.metrics)
    metrics["in_sample_ndcg@10"] = metrics.pop("valid_ndcg@10")
    metrics.pop("valid_ndcg@10_first_tree", None)
    metrics[JUDGED_QUERIES] = float(train.n_requests)
    artifact.meta = artifact.meta.model_copy(update={"metrics": metrics})
    return artifact


def learned_from_judgments(artifact: RankerArtifact | None) -> bool:
    """Whether ``artifact`` was learned from judgments (by :func:`fit`)."""
    return artifact is not None and JUDGED_QUERIES in artifact.meta.metrics


def features_of(names: tuple[str, ...]) -> list[Feature]:
    return resolve(names, SOURCE_NAMES)


def serve(engine: Engine, artifact: RankerArtifact) -> None:
    """Rank ``engine``'s requests with ``artifact`` (its features) from now on."""
    names = tuple(artifact.meta.feature_names)
    engine.use_scorer(LambdaMartScorer(artifact), features_of(names))
