"""A unit change injected into one feature at serving is found and named by the skew job."""

import dataclasses
from pathlib import Path

import pytest

from engine.core.contracts import FeedRequest, SearchRequest
from engine.offline.monitoring.skew import skew_report
from engine.serving.feature_log import read_log
from engine.serving.service import Engine
from engine.serving.sources.registry import SOURCE_NAMES
from ltr.features import FeatureHydrator, resolve
from tests.engine.world import BACKENDS, CASES, DECOR, PHONES, close_engine, make_engine


async def _traffic(engine: Engine, tag: str) -> None:
    for i, item in enumerate([*PHONES[:3], *DECOR[:3], *CASES[:2]]):
        await engine.rank(FeedRequest(session_items=[item.id], page_size=10), f"{tag}-f{i}")
    for i, q in enumerate(["phone case", "vase", "smartphone", "lamp"]):
        await engine.rank(SearchRequest(query=q), f"{tag}-s{i}")
    await engine.feature_log.flush()


def _offline(engine: Engine, names: tuple[str, ...]) -> FeatureHydrator:
    """The feature code path training uses, over the same catalog, signals and tables."""
    served = engine.spec.hydrator
    assert isinstance(served, FeatureHydrator)
    return FeatureHydrator(
        resolve(names, SOURCE_NAMES), engine.catalog, engine.signals, 20, covis=served.covis
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_injected_unit_change_is_named(tmp_path: Path, backend: str) -> None:
    engine = await make_engine(tmp_path, backend=backend, feature_log_rate=1.0)
    try:
        await _traffic(engine, "clean")
        hyd = engine.spec.hydrator
        assert isinstance(hyd, FeatureHydrator)
        names = tuple(f.name for f in hyd.features)
        clean = [
            r for r in read_log(tmp_path / "feature-log") if r["request_id"].startswith("clean")
        ]
        rep = skew_report(clean, _offline(engine, names), engine.catalog)
        assert rep["requests"] == len(clean) >= 10  # a request with no candidate logs nothing
        assert rep["rows"] > 100 and rep["unknown_items"] == 0
        assert rep["skewed"] == [], rep["skewed"]
        assert all(f["mismatch_rate"] == 0 for f in rep["features"].values())

        # serving now reports the price percentile in percent, training keeps the fraction
        j = names.index("price_percentile")
        f = hyd.features[j]
        hyd.features[j] = dataclasses.replace(f, compute=lambda x, g=f.compute: g(x) * 100)
        await _traffic(engine, "skewed")
        skewed = [
            r for r in read_log(tmp_path / "feature-log") if r["request_id"].startswith("skewed")
        ]
        rep = skew_report(skewed, _offline(engine, names), engine.catalog)
        assert rep["skewed"] == ["price_percentile"], rep["skewed"]
        worst = rep["features"]["price_percentile"]
        assert worst["mismatch_rate"] > 0.5 and worst["examples"]
        ex = worst["examples"][0]
        assert ex["serving"] == pytest.approx(100 * ex["offline"], rel=1e-4)
    finally:
        await close_engine(engine)
