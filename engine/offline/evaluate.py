"""`shopnow evaluate`: rankers and towers on held-out logged requests, through the serving
pipeline."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.arrays import I64
from engine.core.contracts import Surface
from engine.core.pipeline.spec import PipelineSpec
from engine.core.settings import Settings
from engine.offline.cold_start_replay import ColdStartReplay
from engine.offline.evaluation.lift import BASELINE, drop_per_request, lifts
from engine.offline.evaluation.synthetic import evaluate_requests
from engine.offline.replay import held_out
from engine.serving import backends
from engine.serving.assembly import (
    cold_start_state,
    load_catalog,
    load_graph,
    load_signals,
    load_towers,
    served_ranker,
)
from engine.serving.models import ServedModels
from engine.serving.pipelines import build_spec
from ltr.artifact import RankerArtifact
from ltr.scorers import HeuristicScorer, LambdaMartScorer
from synth.dataset import load_dataset

if TYPE_CHECKING:
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.evaluate")
BASELINES = ("popular", "covis")  # one source each, ranked by the heuristic


async def evaluate(
    settings: Settings,
    *,
    max_requests: int = 5000,
    seed: int = 0,
    progress: bool = True,
    towers_vectors: str = "full",
    rankers: dict[str, RankerArtifact] | None = None,
    towers: dict[str, str] | None = None,
    per_request: bool = False,
    complements: tuple[I64, I64] | None = None,
) -> dict[str, Any]:
    """The ranker and the heuristic on held-out requests after the split (or the ``rankers``
    given, by label, in the same pipeline; or the served ranker with each of the ``towers``
    versions given by label, their item vectors searched exactly in memory). ``towers_vectors=
    "provisional"`` gives every item its provisional vector (attributes only, as ingest does
    before the text encoder reaches it): the quality of the two-tower source for items still
    waiting on the vector lane. The index under ``settings`` must hold the same vectors.
    ``complements`` (leaf, partner leaf or -1, by catalog row), when a simulation experiment
    knows them, adds the ``complement`` groups; no job passes them (data holds no such truth)."""

    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=True)
    split, end = float(ds.meta["split_ts"]), float(ds.meta["end"])
    signals, covis = load_signals(settings, catalog)
    towers_served = None if towers is not None else load_towers(settings, catalog, progress)
    if towers_served is not None and towers_vectors == "provisional":
        towers_served.ensure(catalog, np.arange(len(catalog), dtype=np.int64), provisional=True)
    graph = load_graph(settings, catalog)
    cold = cold_start_state(settings, catalog, signals)

    def spec(
        scorer: Any,
        names: tuple[str, ...] | None = None,
        model: TowerServing | None = None,
        sources: tuple[str, ...] | None = None,
    ) -> PipelineSpec:
        return build_spec(
            settings=settings,
            catalog=catalog,
            index=index,
            signals=signals,
            covis=covis,
            scorer=scorer,
            feature_names=names,
            models=ServedModels.of(model or towers_served, graph),
            deadline_ms=settings.offline_deadline_ms,
            cold_start=cold,
            towers_in_memory=model is not None,
            sources=sources,
        )

    if towers is not None:
        served = served_ranker(settings)  # no ranker yet: the heuristic ranks both
        specs = {}
        for label, version in towers.items():
            model = load_towers(settings, catalog, progress, version=version)
            if model is None:
                raise FileNotFoundError(f"towers {version} is not there or two_tower is off")
            specs[label] = spec(served.scorer, served.feature_names, model)
    elif rankers is not None:
        specs = {
            name: spec(LambdaMartScorer(art), tuple(art.meta.feature_names))
            for name, art in rankers.items()
        }
    else:
        specs = {"heuristic": spec(HeuristicScorer())}
        served = served_ranker(settings)  # without an artifact: the heuristic only
        if served.artifact is not None:
            specs["lambdamart"] = spec(served.scorer, served.feature_names)
    replay, reqs = held_out(ds, max_requests=max_requests, seed=seed)
    if rankers is None and towers is None and not replay.has_impressions:
        # interaction logs: the baselines, the same requests in the same run (BM25 alone for
        # the search requests, when the logs had queries)
        searched = any(r.surface == Surface.search for r in reqs)
        for name in (*BASELINES, *(("bm25",) if searched else ())):
            specs[f"{BASELINE}{name}"] = spec(HeuristicScorer(), sources=(name,))
    with_baselines = any(name.startswith(BASELINE) for name in specs)
    report = await evaluate_requests(
        specs,
        replay,
        reqs,
        progress,
        catalog.created_at.values,
        complements,
        advance=ColdStartReplay(cold, ds.events).advance,
        per_request=per_request or with_baselines,
    )
    await index.close()
    if with_baselines:  # each pipeline's lift over each baseline, with its interval
        report["lift"] = lifts(report)
        if not per_request:
            drop_per_request(report)
    return {"requests": len(reqs), "window": [split, end], **report}
