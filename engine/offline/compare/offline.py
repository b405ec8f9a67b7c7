"""The three variants on the same held-out requests (synthetic or imported), with the same
ranker.

Every variant is the production pipeline (``build_spec``) with only its candidate sources
switched on; the ranker artifact, features, filters and re-rankers are shared, so differences
come from retrieval. Each request is run by the three in turn, so they see the same load.

Only the synthetic world has a hidden response model (``simulation/truth.npz``): on imported
data the expected outcome, the ranker's calibration against true relevance and the simulated online
tests are skipped, each with its reason in ``"skipped"``, and quality is the objective.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.core.settings import Settings
from engine.offline.cold_start_replay import ColdStartReplay
from engine.offline.compare.observe import Collector
from engine.offline.compare.online import simulate
from engine.offline.compare.paired import Recorder
from engine.offline.compare.variants import VARIANTS, maintainability
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
from engine.serving.sources.registry import Model, available
from synth.dataset import load_dataset
from synth.outcome import ResponseModel
from synth.truth import has_truth, load_truth

log = logging.getLogger("shopnow.compare")

#: what needs the synthetic world's hidden truth, and why it is skipped without it
NO_TRUTH = {
    "outcome": "no hidden response model (simulation/): imported data has logged interactions, "
    "not the probability that a user would click or buy any item shown, so the expected "
    "business outcome of a page the log never showed cannot be computed; quality is the "
    "objective instead",
    "calibration": "needs the true relevance of every candidate (simulation/), which only the "
    "synthetic world has",
    "online": "simulated A/B and interleaving tests draw user responses from the hidden "
    "response model (simulation/truth.npz), which only the synthetic world has",
}


async def run_offline(
    settings: Settings,
    *,
    variants: dict[str, tuple[str, ...]] | None = None,
    max_requests: int = 3000,
    seed: int = 0,
    replicates: int = 100,
    progress: bool = True,
) -> dict[str, Any]:
    """Per variant: the evaluation report (NDCG, HR and recall per surface and segment, per
    source recall, new-item groups and exposure) plus the collector's figures (latency per
    stage, CPU per request, expected business outcome, slot share, calibration), the simulated
    online tests of every variant against ``traditional`` (``replicates`` response draws), and
    under ``"sample"`` the per-request figures (:class:`~engine.offline.compare.paired.Sample`)
    the confidence intervals are drawn from. What the data cannot give is under
    ``"skipped"``, with the reason."""
    variants = variants or VARIANTS
    ds = load_dataset(settings.data_dir)
    # a simulation experiment where the synthetic world's hidden truth is there: it scores
    # the pages; on imported data the quality figures decide
    hidden = load_truth(settings.data_dir) if has_truth(settings.data_dir) else None
    truth = hidden is not None
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=True)
    try:
        signals, covis = load_signals(settings, catalog)
        towers = load_towers(settings, catalog, progress)
        graph = load_graph(settings, catalog)
        served = served_ranker(settings)  # without an artifact every variant is heuristic
        scorer, features, ranker = served.scorer, served.feature_names, served.version
        missing = {s for srcs in variants.values() for s in srcs} - _available(towers, graph)
        if missing:
            raise ValueError(
                f"sources {sorted(missing)} need models that are not trained "
                "(`shopnow train-towers`, `shopnow train-graph`)"
            )
        cold = cold_start_state(settings, catalog, signals)  # one state, shared by the variants
        specs = {
            name: build_spec(
                settings=settings,
                catalog=catalog,
                index=index,
                signals=signals,
                covis=covis,
                scorer=scorer,
                feature_names=features,
                models=ServedModels.of(towers, graph),
                sources=srcs,
                deadline_ms=settings.offline_deadline_ms,
                cold_start=cold,
            )
            for name, srcs in variants.items()
        }
        replay, reqs = held_out(ds, max_requests=max_requests, seed=seed)
        recorder = Recorder(catalog.created_at.values)
        collector = Collector(ResponseModel(hidden) if hidden else None, recorder)
        report = await evaluate_requests(
            specs,
            replay,
            reqs,
            progress,
            catalog.created_at.values,
            hidden.complements if hidden else None,
            observe=collector,
            advance=ColdStartReplay(cold, ds.events).advance,
        )
    finally:
        await index.close()
    extra = collector.summary()
    out: dict[str, Any] = {
        "requests": len(reqs),
        "items": len(catalog),
        "ranker": ranker,
        "degraded": report.get("degraded", {}),
        "new_item_exposure": report.get("new_item_exposure", {}),
        "variants": {},
        "sample": recorder.sample(),
        "skipped": {} if truth else dict(NO_TRUTH),
    }
    if truth and "traditional" in variants and len(variants) > 1:
        others = [n for n in variants if n != "traditional"]
        out["online"] = simulate(ds, collector, "traditional", others, replicates=replicates)
    for name, srcs in variants.items():
        out["variants"][name] = {
            "sources": list(srcs),
            "quality": report.get(name, {}),
            **extra.get(name, {}),
            "maintainability": maintainability(srcs),
        }
    return out


def _available(towers: object, graph: object) -> set[str]:
    trained: set[Model] = set()
    if towers is not None:
        trained.add("towers")
    if graph is not None:
        trained.add("graph")
    return set(available(trained))
