"""The promotion gate blocks a ranker or a towers model that regresses on the fixed evaluation
set and lets an equivalent one through; `shopnow train` and `shopnow train-towers` publish only
what passes."""

import asyncio
from collections.abc import Iterator

import lightgbm as lgb
import numpy as np
import pytest
import torch

from engine.core.settings import Settings
from engine.offline.monitoring.gate import GateRule, gate, gate_towers, judge
from engine.offline.train import build_index, train, train_towers
from ltr.artifact import CURRENT, RankerArtifact, new_version
from tests.engine.world import synthetic_world
from towers.artifact import load_artifact, save_artifact
from towers.model import TwoTower

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end


def _seg(n: int, ndcg: float) -> dict[str, float]:
    return {"requests": n, "ndcg@10": ndcg}


def test_judge_blocks_a_real_drop_and_ignores_tiny_groups() -> None:
    serving = {
        "feed": {"heavy": _seg(400, 0.10), "anonymous": _seg(100, 0.02), "fresh": _seg(9, 0.5)}
    }
    same = {
        "feed": {"heavy": _seg(400, 0.099), "anonymous": _seg(100, 0.02), "fresh": _seg(9, 0.0)}
    }
    verdict = judge({"serving": serving, "candidate": same}, GateRule())
    assert verdict["passed"], verdict  # 1% off on heavy; the 9-request group does not decide
    assert verdict["groups"]["feed/fresh"]["decides"] is False
    assert verdict["groups"]["feed/all"]["requests"] == 500
    worse = {
        "feed": {"heavy": _seg(400, 0.09), "anonymous": _seg(100, 0.02), "fresh": _seg(9, 0.5)}
    }
    verdict = judge({"serving": serving, "candidate": worse}, GateRule())
    assert verdict["regressions"] == ["feed/heavy", "feed/all"] and not verdict["passed"]


def test_a_drop_must_be_significant_on_the_paired_requests() -> None:
    rng = np.random.default_rng(0)
    served = rng.random(400) * 0.2
    noisy = served + rng.normal(-0.01, 0.2, 400)  # 10% lower on average, but noise
    steady = served - 0.01  # 10% lower on every request

    def report(cand: np.ndarray) -> dict:
        def seg(x: np.ndarray) -> dict:
            return {"requests": len(x), "ndcg@10": float(x.mean()), "ndcg@10_per_request": x}

        return {
            "serving": {"feed": {"heavy": seg(served)}},
            "candidate": {"feed": {"heavy": seg(cand)}},
        }

    calm = judge(report(noisy), GateRule())
    lo, hi = calm["groups"]["feed/heavy"]["difference_95"]
    assert calm["passed"] and lo < 0 < hi  # beyond the threshold, not significant
    blocked = judge(report(steady), GateRule())
    assert blocked["regressions"] == ["feed/heavy", "feed/all"]
    assert blocked["groups"]["feed/all"]["difference_95"][1] < 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("gate")
    with synthetic_world(root, "embedded", items=3000, events=150_000, seed=7) as settings:
        yield settings.model_copy(update={"gate_requests": 1000, "gate_min_requests": 30})


def _random_ranker(like: RankerArtifact, settings: Settings) -> RankerArtifact:
    """A ranker with the served one's features and scores that mean nothing."""
    rng = np.random.default_rng(0)
    n, d = 2000, len(like.meta.feature_names)
    data = lgb.Dataset(rng.random((n, d)), rng.integers(0, 2, n), group=[20] * (n // 20))
    booster = lgb.train({"objective": "lambdarank", "verbose": -1, "num_leaves": 15}, data, 30)
    meta = like.meta.model_copy(update={"version": new_version()})
    art = RankerArtifact(booster, meta)
    art.save(settings.model_dir, publish=False)
    return art


async def test_a_regressing_ranker_is_blocked(world: Settings) -> None:
    await build_index(world, progress=False)
    first = await train(world, max_requests=800, progress=False, reference_requests=50)
    assert first["promoted"] and first["gate"] is None  # nothing served yet: published
    served = RankerArtifact.load(world.model_dir)
    pointer = world.model_dir / "ranker" / CURRENT

    bad = _random_ranker(served, world)
    verdict = await gate(world, bad, served, requests=400, rule=GateRule(min_requests=30))
    assert not verdict["passed"] and verdict["regressions"], verdict
    assert pointer.read_text() == served.version  # the gate itself publishes nothing
    itself = await gate(world, served, served, requests=400, rule=GateRule(min_requests=30))
    assert itself["passed"] and itself["regressions"] == []

    again = await train(world, max_requests=800, progress=False, reference_requests=50, seed=1)
    assert again["gate"] is not None and again["promoted"] == again["gate"]["passed"]
    assert pointer.read_text() == (again["version"] if again["promoted"] else served.version)


def _collapsed_towers(settings: Settings, like: str) -> str:
    """A towers version shaped like ``like`` whose embeddings collapsed: every item and query
    vector points the same way, so every item scores ~1 for every query (not published).
    (An untrained model is not bad enough: its text path starts as an isometry of MiniLM's
    space, content similarity that the ranker's other features make good use of.)"""
    served = load_artifact(settings.towers_dir, like)
    torch.manual_seed(0)
    model = TwoTower(served.meta.tower_config)
    with torch.no_grad():
        model.item.skip.weight.zero_()  # shared with the query tower's text path
        for out in (model.item.out, model.query.out):
            out.weight.mul_(1e-3)
            out.bias.fill_(1.0)
    return save_artifact(
        settings.towers_dir,
        model,
        train_config={"seed": 0},
        vocabularies=served.vocabularies,
        metrics={},
        training_window={"data": "none: collapsed"},
        restricted_min_support=settings.restricted_min_support,
        make_current=False,
    )


async def test_a_regressing_towers_model_is_blocked(world: Settings) -> None:
    pointer = world.towers_dir / "CURRENT"
    first = await asyncio.to_thread(
        train_towers, world, max_requests=4000, max_epochs=2, progress=False
    )
    assert first["promoted"] and first["gate"] is None  # nothing served yet: published
    served = first["version"]
    assert pointer.read_text().strip() == served

    bad = _collapsed_towers(world, served)
    rule = GateRule(min_requests=30)
    verdict = await gate_towers(world, bad, served, requests=1000, rule=rule)
    assert not verdict["passed"] and verdict["regressions"], verdict
    assert pointer.read_text().strip() == served  # the gate itself publishes nothing
    itself = await gate_towers(world, served, served, requests=400, rule=rule)
    assert itself["passed"] and itself["regressions"] == []

    again = await asyncio.to_thread(
        train_towers, world, max_requests=4000, max_epochs=2, progress=False, seed=1
    )
    assert again["gate"] is not None and again["promoted"] == again["gate"]["passed"]
    assert again["gate"]["serving"] == served and again["gate"]["candidate"] == again["version"]
    assert pointer.read_text().strip() == (again["version"] if again["promoted"] else served)
