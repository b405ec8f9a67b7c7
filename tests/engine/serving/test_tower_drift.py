"""Drift of the query tower's outputs: logged query vectors of shifted traffic against the end of
the towers' training window raise the alert; the same traffic unshifted does not."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.core.pipeline.executor import Executor
from engine.core.settings import Settings
from engine.offline.monitoring.monitor import format_monitor, towers_output
from engine.offline.replay import log_replay
from engine.offline.train import build_index
from engine.serving import backends
from engine.serving.assembly import cold_start_state, load_catalog, load_signals
from engine.serving.feature_log import FeatureLog, read_log
from engine.serving.models import ServedModels
from engine.serving.pipelines import build_spec
from engine.serving.tower_drift import (
    OUTPUT_REFERENCE_FILE,
    OutputReference,
    build_output_reference,
    output_drift,
)
from ltr.scorers import HeuristicScorer
from synth.dataset import load_dataset
from tests.engine.offline.monitoring.shift import anonymous
from tests.engine.world import synthetic_world
from tests.towers.tiny import tiny_towers
from towers.serving import TowerServing

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("towerdrift")
    with synthetic_world(root, "embedded", items=2000, events=40_000, seed=11) as settings:
        yield settings


def _served_towers(settings: Settings) -> TowerServing:
    """An (untrained, seeded) towers model published for serving, with its reference built
    from the end of the training window as `shopnow train-towers` does."""
    catalog = load_catalog(settings)
    serving = tiny_towers(settings.towers_dir, catalog, seed=3)
    ds = load_dataset(settings.data_dir)
    start, split = float(ds.meta["start"]), float(ds.meta["split_ts"])
    replay = log_replay(ds)
    tail = replay.requests(
        split - 0.2 * (split - start), split, max_requests=400, positives_only=False, seed=0
    )
    ref = build_output_reference(serving, (replay.context(lr) for lr in tail))
    ref.save(serving.artifact_dir / OUTPUT_REFERENCE_FILE)
    return serving


async def _serve(settings: Settings, towers: TowerServing, logdir: Path, shift: bool) -> None:
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=True)
    signals, covis = load_signals(settings, catalog)
    spec = build_spec(
        settings=settings,
        catalog=catalog,
        index=index,
        signals=signals,
        covis=covis,
        scorer=HeuristicScorer(),
        models=ServedModels.of(towers),
        towers_in_memory=True,
        cold_start=cold_start_state(settings, catalog, signals),
        deadline_ms=settings.offline_deadline_ms,
    )
    replay = log_replay(ds)
    split, end = float(ds.meta["split_ts"]), float(ds.meta["end"]) + 1
    reqs = replay.requests(split, end, max_requests=300, positives_only=False)  # all traffic
    flog = FeatureLog(logdir, 1.0)
    executor = Executor(spec)
    for lr in reqs:
        ctx = replay.context(lr)
        ctx = anonymous(ctx) if shift else ctx
        flog.observe(ctx, await executor.run(ctx), catalog, {"index": index.name})
    await flog.flush()
    await index.close()


async def test_shifted_traffic_moves_the_query_tower_outputs(
    world: Settings, tmp_path: Path
) -> None:
    await build_index(world, progress=False)
    towers = _served_towers(world)
    calm_dir, shifted_dir = tmp_path / "calm", tmp_path / "shifted"
    await _serve(world, towers, calm_dir, shift=False)
    await _serve(world, towers, shifted_dir, shift=True)

    calm_records = list(read_log(calm_dir))
    logged = [r for r in calm_records if "two_tower" in r["query_vectors"]]
    assert len(logged) > 200 and all(r["versions"]["towers"] == towers.version for r in logged)
    assert logged[0]["query_vectors"]["two_tower"].shape == (towers.dim,)

    calm = towers_output(world, calm_records)
    shifted = towers_output(world, list(read_log(shifted_dir)))
    assert isinstance(calm, dict) and isinstance(shifted, dict)
    assert not calm["alert"] and calm["psi_mean"] < 0.2, calm
    assert shifted["alert"] and shifted["psi_mean"] > 5 * calm["psi_mean"], (calm, shifted)
    assert shifted["mean_cosine"] < calm["mean_cosine"]
    text = format_monitor(
        {
            "ranker": "r",
            "records_of_this_ranker": 0,
            "window_hours": 1,
            "records": 300,
            "towers_output": shifted,
            "alerts": [],
        }
    )
    assert f"towers {towers.version} outputs over" in text and "ALERT" in text


def test_output_reference_round_trip_and_shape_check(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref = OutputReference.build("m1", rng.standard_normal((500, 8)).astype(np.float32))
    ref.save(tmp_path / OUTPUT_REFERENCE_FILE)
    again = OutputReference.load(tmp_path / OUTPUT_REFERENCE_FILE)
    same = rng.standard_normal((400, 8)).astype(np.float32)
    moved = same + np.float32(0.8)
    assert not output_drift(again, same, psi_alert=0.2)["alert"]
    assert output_drift(again, moved, psi_alert=0.2)["alert"]
    with pytest.raises(ValueError, match="reference has 8"):
        output_drift(again, same[:, :4], psi_alert=0.2)
