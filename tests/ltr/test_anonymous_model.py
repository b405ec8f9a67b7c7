"""The anonymous requests' own model: fitted and kept only when it ranks them better than
the model of every request, saved beside it, and read by the scorer for anonymous rows only."""

from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from engine.core.pipeline.stages import FeatureFrame
from ltr.artifact import ANONYMOUS_FILE, RankerArtifact, RankerMeta
from ltr.scorers import LambdaMartScorer
from ltr.train import ANONYMOUS_PARAMS, TrainingSet, anonymous_model, ndcg_at_10

NAMES = ("segment", "a", "b")
PARAMS: dict[str, float | int | str] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": "10",
    "verbose": -1,
    "num_threads": 1,
    "seed": 0,
    "deterministic": "true",
}


def _requests(segments: list[int], seed: int, rows: int = 20) -> TrainingSet:
    """Anonymous requests' positives have a high ``b``, signed-in ones' a high ``a``."""
    rng = np.random.default_rng(seed)
    seg = np.repeat(np.array(segments, np.float32), rows)
    a, b = rng.random(len(seg)), rng.random(len(seg))
    y = np.where(seg == 0, b > 0.8, a > 0.8).astype(np.int8)
    x = np.stack([seg, a, b], axis=1).astype(np.float32)
    return TrainingSet(x, y, np.full(len(segments), rows, np.int64), NAMES, (0.0, 1.0))


def _general(train: TrainingSet) -> lgb.Booster:
    """A model fitted to the signed-in requests only: it knows nothing of ``b``."""
    known = train.requests(train.segments() != 0)
    data = lgb.Dataset(known.X, known.y, group=known.group, feature_name=list(NAMES))
    return lgb.train({**PARAMS, "num_leaves": 7}, data, 20)


def test_ndcg_at_10_orders_each_request_by_its_scores() -> None:
    ts = TrainingSet(
        np.zeros((4, 1), np.float32),
        np.array([0, 1, 1, 0], np.int8),
        np.array([2, 2]),
        ("f",),
        (0.0, 1.0),
    )
    perfect = ndcg_at_10(np.array([0.0, 1.0, 1.0, 0.0]), ts)
    assert perfect == pytest.approx(1.0)
    worst = ndcg_at_10(np.array([1.0, 0.0, 0.0, 1.0]), ts)  # each positive second
    assert worst == pytest.approx(1 / np.log2(3))


def test_anonymous_model_is_kept_when_it_ranks_them_better() -> None:
    segments = [0] * 120 + [2] * 120
    train, valid = _requests(segments, 1), _requests([0] * 20 + [2] * 20, 2)
    general = _general(train)
    model, figures = anonymous_model(train, valid, general, PARAMS, rounds=50)
    assert model is not None
    assert figures["anonymous_requests"] == 120
    assert figures["anonymous_valid_ndcg@10"] > figures["anonymous_valid_ndcg@10_general"] + 0.2


def test_no_anonymous_model_without_enough_of_them_or_when_no_better() -> None:
    train, valid = _requests([0] * 50 + [2] * 100, 1), _requests([0] * 20 + [2] * 20, 2)
    assert anonymous_model(train, valid, _general(train), PARAMS, rounds=50) == (None, {})
    # a general model that is the anonymous model itself (same data, parameters and stopping)
    # ranks them as well: not beaten, so not replaced
    train, valid = _requests([0] * 120 + [2] * 20, 1), _requests([0] * 20 + [2] * 20, 2)
    tr, va = train.requests(train.segments() == 0), valid.requests(valid.segments() == 0)
    data = lgb.Dataset(tr.X, tr.y, group=tr.group, feature_name=list(NAMES), free_raw_data=False)
    same = lgb.train(
        {**PARAMS, **ANONYMOUS_PARAMS},
        data,
        num_boost_round=50,
        valid_sets=[lgb.Dataset(va.X, va.y, group=va.group, reference=data)],
        callbacks=[lgb.early_stopping(40, verbose=False)],
    )
    model, figures = anonymous_model(train, valid, same, PARAMS, rounds=50)
    assert figures["anonymous_valid_ndcg@10"] == figures["anonymous_valid_ndcg@10_general"]
    assert model is None


@pytest.mark.parametrize("compiled", [False, True])
def test_scorer_reads_the_anonymous_model_for_anonymous_rows_only(
    tmp_path: Path, compiled: bool
) -> None:
    train = _requests([0] * 120 + [2] * 120, 1)
    general = _general(train)
    anon_set = train.requests(train.segments() == 0)
    anon = lgb.train(
        {**PARAMS, "num_leaves": 7},
        lgb.Dataset(anon_set.X, anon_set.y, group=anon_set.group, feature_name=list(NAMES)),
        20,
    )
    meta = RankerMeta(
        version="ranker-test",
        created_at=datetime.now(UTC),
        feature_names=list(NAMES),
        source_names=[],
        train_window=(0.0, 1.0),
        n_requests=240,
        n_rows=len(train.y),
        params={},
        metrics={},
        lightgbm_version=lgb.__version__,
    )
    RankerArtifact(general, meta, anonymous=anon).save(tmp_path)
    loaded = RankerArtifact.load(tmp_path)
    assert loaded.anonymous is not None and (loaded.path / ANONYMOUS_FILE).is_file()
    scorer = LambdaMartScorer(loaded, compiled=compiled)
    x = _requests([0, 2], 3).X
    got = scorer.score(FeatureFrame(NAMES, x))
    want = np.where(x[:, 0] == 0, anon.predict(x), general.predict(x))
    np.testing.assert_allclose(got, want, atol=1e-5)
    contrib = scorer.contributions(FeatureFrame(NAMES, x), np.arange(len(x)))
    assert contrib.shape == (len(x), 3)
    # the anonymous rows' explanations come from the anonymous model: b matters there
    assert np.abs(contrib[x[:, 0] == 0, 2]).sum() > np.abs(contrib[x[:, 0] == 0, 1]).sum()
    without = RankerArtifact(general, meta)  # an artifact without one scores every row alike
    np.testing.assert_allclose(
        LambdaMartScorer(without, compiled=False).score(FeatureFrame(NAMES, x)),
        general.predict(x),
        atol=1e-5,
    )
