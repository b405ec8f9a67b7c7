"""Drift of shifted synthetic traffic is seen and named; the same traffic unshifted is calm on
those features, and the skew job finds nothing between serving and training code paths."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.app.cli import main
from engine.core.pipeline.executor import Executor
from engine.core.settings import Settings
from engine.offline.cold_start_replay import ColdStartReplay
from engine.offline.monitoring.monitor import monitor
from engine.offline.replay import log_replay
from engine.offline.train import build_index, train
from engine.serving import backends
from engine.serving.assembly import cold_start_state, load_catalog, load_signals
from engine.serving.drift import REFERENCE_FILE
from engine.serving.feature_log import FeatureLog
from engine.serving.pipelines import build_spec
from ltr.artifact import RankerArtifact
from ltr.scorers import LambdaMartScorer
from synth.dataset import load_dataset
from tests.engine.offline.monitoring.shift import anonymous
from tests.engine.world import synthetic_world

pytestmark = pytest.mark.slow  # builds a world and trains or serves end to end


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("monitor")
    with synthetic_world(root, "embedded", items=3000, events=60_000, seed=5) as settings:
        yield settings


async def _serve(settings: Settings, logdir: Path, shift: bool) -> int:
    """Held-out requests through the served pipeline, every one logged."""
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=True)
    signals, covis = load_signals(settings, catalog)
    art = RankerArtifact.load(settings.model_dir)
    cold = cold_start_state(settings, catalog, signals)
    spec = build_spec(
        settings=settings,
        catalog=catalog,
        index=index,
        signals=signals,
        covis=covis,
        scorer=LambdaMartScorer(art),
        feature_names=tuple(art.meta.feature_names),
        cold_start=cold,
        deadline_ms=settings.offline_deadline_ms,
    )
    replay = log_replay(ds)
    advance = ColdStartReplay(cold, ds.events).advance
    reqs = replay.requests(float(ds.meta["split_ts"]), float(ds.meta["end"]) + 1, max_requests=300)
    flog = FeatureLog(logdir, 1.0)
    executor = Executor(spec)
    for lr in reqs:
        await advance(lr.ts)
        ctx = replay.context(lr)
        ctx = anonymous(ctx) if shift else ctx
        flog.observe(ctx, await executor.run(ctx), catalog, {"index": index.name})
    await flog.flush()
    await index.close()
    return flog.logged


async def test_shifted_traffic_alerts_and_names_what_moved(
    world: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await build_index(world, progress=False)
    await train(world, max_requests=800, progress=False, reference_requests=200)
    art = RankerArtifact.load(world.model_dir)
    assert art.path is not None and (art.path / REFERENCE_FILE).is_file()

    calm_dir, shifted_dir = tmp_path / "calm", tmp_path / "shifted"
    assert await _serve(world, calm_dir, shift=False) > 100
    assert await _serve(world, shifted_dir, shift=True) > 100
    forever = 24 * 3650.0  # the synthetic logs are dated 2025

    calm = monitor(world.model_copy(update={"feature_log_dir": calm_dir}), hours=forever)
    shifted = monitor(world.model_copy(update={"feature_log_dir": shifted_dir}), hours=forever)
    moved = ["drift: feature segment", "drift: feature session_len", "drift: score"]
    moved.append("drift: source mix")  # no history, no session: no co-visitation candidates
    for alert in moved:
        assert alert in shifted["alerts"], shifted["alerts"]
        assert alert not in calm["alerts"], calm["alerts"]
    mix = shifted["drift"]["source_mix"]["live"]
    assert mix["covis"] == mix["popular_in_context"] == 0.0
    # histories lengthen with time: real drift in calm traffic too, thirty times less
    hist = (calm["drift"]["features"]["history_len"], shifted["drift"]["features"]["history_len"])
    assert hist[1]["alert"] and hist[1]["psi"] > 10 * hist[0]["psi"]
    # serving and training compute the same features from the same inputs
    assert calm["skew"]["skewed"] == [] and calm["skew"]["rows"] > 1000

    args = ["monitor", "--data", str(world.data_dir), "--models", str(world.model_dir)]
    args += ["--hours", str(forever), "--no-skew"]
    plot = tmp_path / "psi.png"
    assert (
        main([*args, "--feature-log", str(shifted_dir), "--fail-on-alert", "--plot", str(plot)])
        == 1
    )
    assert plot.stat().st_size > 10_000
    capsys.readouterr()
    assert main([*args, "--feature-log", str(calm_dir), "--json", "--plot", str(plot)]) in (0, 1)
    printed = capsys.readouterr()  # stdout stays one JSON document; the plot's path on stderr
    assert "alerts" in json.loads(printed.out) and f"plot: {plot}" in printed.err
    assert main([*args, "--feature-log", str(tmp_path / "empty")]) == 0  # nothing logged: calm


def test_monitor_reports_a_missing_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["monitor", "--models", str(tmp_path / "none"), "--feature-log", str(tmp_path)])
    assert code == 2 and "no ranker artifact" in capsys.readouterr().err
