"""Offline jobs that write what serving loads: the index (`shopnow index`), the ranker
(`shopnow train`), the two towers (`shopnow train-towers`) and the graph model
(`shopnow train-graph`)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from engine.core.catalog import Catalog
from engine.core.pipeline.executor import Executor
from engine.core.pipeline.spec import PipelineSpec
from engine.core.retrieval.content import ContentSimilarity
from engine.core.settings import Settings
from engine.core.signals import DAY
from engine.offline.cold_start_replay import ColdStartReplay
from engine.offline.evaluation.judged_ranker import fit
from engine.offline.monitoring.gate import GateRule, gate, gate_towers
from engine.offline.monitoring.reference import build_reference
from engine.offline.replay import (
    build_signals,
    log_replay,
    logged_requests,
    ranker_feature_time,
    request_kind,
)
from engine.serving import backends
from engine.serving.assembly import (
    RANKER_WINDOW,
    SERVE_WINDOW,
    cold_start_state,
    index_doc_fn,
    load_catalog,
    load_graph,
    load_towers,
    open_engine,
)
from engine.serving.cold_start import ColdStart
from engine.serving.drift import REFERENCE_FILE
from engine.serving.models import ServedModels
from engine.serving.pipelines import build_spec
from engine.serving.sources.registry import SOURCE_NAMES
from engine.serving.tower_drift import OUTPUT_REFERENCE_FILE, build_output_reference
from ltr.artifact import ANONYMOUS_FILE, RankerArtifact
from ltr.compiled import compile_model
from ltr.features import resolve
from ltr.logs import LoggedRequest
from ltr.scorers import LambdaMartScorer
from ltr.train import TrainingSet, build_training_set, train_ranker
from synth.dataset import load_dataset

#: negatives per request replayed from interactions, sampled from the candidates it served
#: (logs with impressions: 20 of the candidates not shown)
NEGATIVES = 100

log = logging.getLogger("shopnow.train")

OUTPUT_REFERENCE_REQUESTS = 500  # requests of the towers' tower-output drift reference


def content_table(catalog: Catalog) -> ContentSimilarity:
    """The title and attribute similarity table of the catalog (see
    :mod:`engine.core.retrieval.content`)."""
    return ContentSimilarity.build(catalog.tokens, catalog.attributes, len(catalog))


async def build_index(
    settings: Settings, progress: bool = True, text_vectors: bool = False
) -> dict[str, Any]:
    """The search index, the behavioural signals and tables, and with ``text_vectors`` the
    item texts' MiniLM vectors (:mod:`towers.text_vectors`)."""
    t0 = time.perf_counter()
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings, progress)
    if text_vectors:
        from towers.text import TextEncoder
        from towers.text_vectors import TextVectors

        encoder = TextEncoder(settings.text_cache, progress=False)
        TextVectors.save(TextVectors.build(catalog, encoder, progress), settings.model_dir)
    towers = load_towers(settings, catalog, progress)
    if towers is not None:
        towers.save_vectors(catalog)
    doc = index_doc_fn(catalog, towers)
    with tqdm(total=len(catalog), desc="index", unit="item", disable=not progress) as bar:
        n = await backends.build(settings, len(catalog), doc, bar.update)
    split = float(ds.meta["split_ts"])
    content = content_table(catalog)
    signals, covis = build_signals(ds, catalog, split, content)
    signals.save(settings.model_dir / "signals")
    covis.save(settings.model_dir)
    return {
        "items": len(catalog),
        "indexed": n,
        "backend": settings.search_backend,
        "towers": towers.version if towers is not None else None,
        "signals_until": split,
        "seconds": round(time.perf_counter() - t0, 2),
    }


async def train(
    settings: Settings,
    *,
    max_requests: int = 20_000,
    seed: int = 0,
    progress: bool = True,
    reference_requests: int = 300,
    force: bool = False,
    without: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The ranker learns on the last 40% of the training period, each request's features
    computed from the behavioural signals of a snapshot before it, rebuilt every
    ``settings.signals_refresh_days`` as serving rebuilds them (the first at the feature time,
    60% in: the two-tower and graph features come from models that ended there). The
    artifact also gets its drift reference (``engine/offline/monitoring/reference.py``) from up
    to ``reference_requests`` of the last training-window requests. It is published (becomes
    ``CURRENT``) when there is no served ranker, when it passes the promotion gate
    (``engine/offline/monitoring/gate.py``) against the served one, or with ``force``.
    ``without``: features the ranker leaves out (an ablation, e.g. every behaviour feature)."""
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=True)
    split = float(ds.meta["split_ts"])
    t_feat = ranker_feature_time(ds.meta)
    # Two-tower features from the model that ended at the feature time; its item vectors are not
    # in the index (that holds the served model's), so its source searches them in memory.
    towers = load_towers(settings, catalog, progress, RANKER_WINDOW)
    in_memory = towers is not None
    if towers is None:
        towers = load_towers(settings, catalog, progress)
        if towers is not None:
            log.warning(
                "no ranker-window towers model (run `shopnow train-towers` again): two-tower "
                "features come from the served model, which saw the ranker's labels"
            )
    graph = load_graph(settings, catalog, RANKER_WINDOW)
    content = content_table(catalog)  # from the catalog only: the same for every snapshot

    def ranker_spec(
        at: float, scorer: Any = None, names: tuple[str, ...] | None = None
    ) -> tuple[PipelineSpec, ColdStart]:
        """The pipeline on the signals snapshot at ``at``, and its cold-start state."""
        signals, covis = build_signals(ds, catalog, at, content)
        cold = cold_start_state(settings, catalog, signals)
        spec = build_spec(
            settings=settings,
            catalog=catalog,
            index=index,
            signals=signals,
            covis=covis,
            scorer=scorer,
            feature_names=names,
            models=ServedModels.of(towers, graph),
            towers_in_memory=in_memory,
            deadline_ms=settings.offline_deadline_ms,
            cold_start=cold,
        )
        return spec, cold

    replay = log_replay(ds)
    kind = request_kind(ds.meta)
    reqs = logged_requests(replay, t_feat, split, max_requests=max_requests, seed=seed, kind=kind)
    if len(reqs) < 50:
        raise ValueError(f"only {len(reqs)} logged requests with clicks to train on")
    cut = int(len(reqs) * 0.85)
    refresh = settings.signals_refresh_days * DAY

    async def featurize(part: list[LoggedRequest], desc: str, part_seed: int) -> TrainingSet:
        sets = []
        for i, (at, group) in enumerate(by_snapshot(part, t_feat, refresh)):
            spec, cold = ranker_spec(at)
            sets.append(
                await build_training_set(
                    Executor(spec),
                    spec.hydrator,
                    replay,
                    group,
                    negatives=20 if replay.has_impressions else NEGATIVES,
                    seed=part_seed + 7919 * i,
                    progress=progress,
                    desc=desc,
                    advance=ColdStartReplay(cold, ds.events).advance,
                    require_positive=False,
                )
            )
        return TrainingSet.concat(sets)

    tr = (await featurize(reqs[:cut], "train features", seed)).without(without)
    va = (await featurize(reqs[cut:], "valid features", seed + 1)).without(without)
    features = resolve(tr.feature_names, SOURCE_NAMES)
    artifact = train_ranker(
        tr,
        va,
        features,
        SOURCE_NAMES,
        seed=seed,
        progress=progress,
        min_support=settings.restricted_min_support,
    )
    try:
        served: RankerArtifact | None = RankerArtifact.load(settings.model_dir)
    except FileNotFoundError:
        served = None
    path = artifact.save(settings.model_dir, publish=False)
    for model in ("model.txt", ANONYMOUS_FILE):  # so the first serving start need not compile
        if (path / model).is_file():
            compile_model(path / model)
    # the drift reference: the end of the training window, served by the new model
    ref_reqs = reqs[cut:][:reference_requests]
    new_spec, cold = ranker_spec(
        snapshot_time(ref_reqs[0].ts, t_feat, refresh),
        LambdaMartScorer(artifact),
        tuple(artifact.meta.feature_names),
    )
    reference = await build_reference(
        new_spec, replay, ref_reqs, advance=ColdStartReplay(cold, ds.events).advance
    )
    reference.save(path / REFERENCE_FILE)
    await index.close()
    out = {"artifact": str(path), **artifact.meta.model_dump(mode="json", exclude={"params"})}
    verdict = None
    if served is not None and not force:
        rule = GateRule(max_drop=settings.gate_max_drop, min_requests=settings.gate_min_requests)
        verdict = await gate(settings, artifact, served, rule=rule, requests=settings.gate_requests)
    promoted = verdict is None or verdict["passed"]
    if promoted:
        artifact.publish(settings.model_dir)
    else:
        log.warning(
            "ranker %s not promoted: regressions %s against %s",
            artifact.version,
            verdict["regressions"] if verdict else [],
            served.version if served else None,
        )
    return {**out, "promoted": promoted, "gate": verdict}


async def train_judged(
    settings: Settings,
    judgments: dict[str, dict[str, int]],
    *,
    seed: int = 0,
    without: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The search ranker learned from graded judgments of every query
    (:mod:`engine.offline.evaluation.judged_ranker`), published as the served ranker: what a
    catalog without behaviour ranks by. Its cross-validated figure comes from
    ``shopnow eval --judgments --cv``."""
    engine = await open_engine(settings, warm=False, offline=True)
    try:
        artifact = await fit(
            engine,
            judgments,
            sorted(judgments),
            seed=seed,
            min_support=settings.restricted_min_support,
            without=without,
        )
    finally:
        await engine.close()
    path = artifact.save(settings.model_dir, publish=False)
    compile_model(path / "model.txt")
    artifact.publish(settings.model_dir)
    meta = artifact.meta.model_dump(mode="json", exclude={"params"})
    return {"artifact": str(path), "judged_queries": len(judgments), **meta}


def snapshot_time(ts: float, first: float, refresh: float) -> float:
    """The last signals snapshot before ``ts``: they are built at ``first`` and every
    ``refresh`` seconds after it."""
    return first + max(0, (ts - first) // refresh) * refresh


def by_snapshot(
    reqs: list[LoggedRequest], first: float, refresh: float
) -> list[tuple[float, list[LoggedRequest]]]:
    """``reqs`` (in time order) grouped by the signals snapshot each is served from."""
    groups: dict[float, list[LoggedRequest]] = {}
    for lr in reqs:
        groups.setdefault(snapshot_time(lr.ts, first, refresh), []).append(lr)
    return sorted(groups.items())


def train_towers(
    settings: Settings,
    *,
    max_requests: int = 60_000,
    max_epochs: int = 10,
    seed: int = 0,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Two towers on the logged requests before the split; its item vectors are saved beside
    it, and it becomes CURRENT (so a running server rolls it out, :mod:`engine.app.model_watch`,
    and the next ``shopnow index`` uses it) unless the promotion gate finds it regresses
    against the CURRENT one (``force``: no gate).

    A second model learns on the requests before the ranker's feature time only (under
    ``settings.towers_ranker_dir``): `shopnow train` computes the ranker's two-tower features
    with it, so they never come from a model that saw the ranker's labels."""
    # torch (the towers) is imported only where two-tower retrieval is in use
    from towers.artifact import current_version, set_current
    from towers.config import TowerConfig
    from towers.marketplace import marketplace_data, train_marketplace
    from towers.serving import TowerServing
    from towers.text import TextEncoder
    from towers.train import TrainConfig

    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    start, split = float(ds.meta["start"]), float(ds.meta["split_ts"])
    encoder = TextEncoder(settings.text_cache, progress=progress)
    cfg = TrainConfig(seed=seed, max_epochs=max_epochs, patience=2, eval_k=100, progress=progress)
    served = current_version(settings.towers_dir)
    # the gate evaluates the pipeline, which needs an index (on the embedded backend: built)
    indexed = settings.search_backend == "opensearch" or settings.index_dir.exists()
    gated = served is not None and not force and indexed
    out: dict[str, Any] = {}
    for window, end, directory in (
        (RANKER_WINDOW, ranker_feature_time(ds.meta), settings.towers_ranker_dir),
        (SERVE_WINDOW, split, settings.towers_dir),
    ):
        replay = log_replay(ds)
        # every prefix of each sequence (next-item logs): not only each visitor's first item
        reqs = logged_requests(
            replay,
            start,
            end,
            max_requests=max_requests,
            seed=seed,
            kind=request_kind(ds.meta),
            every_prefix=True,
        )
        data = marketplace_data(
            catalog,
            replay,
            reqs,
            encoder,
            TowerConfig(
                dim=settings.vector_dim,
                residual=True,
                text_dropout=settings.tower_text_dropout,
            ),
            min_support=settings.restricted_min_support,
            progress=progress,
        )
        version, res = train_marketplace(
            data,
            cfg,
            directory,
            min_support=settings.restricted_min_support,
            window={"start": str(start), "end": str(end)},
            make_current=not (gated and window == SERVE_WINDOW),
        )
        out[window] = {
            "version": version,
            "train_examples": len(data.train),
            "valid_examples": len(data.valid),
            "best_epoch": res.best_epoch,
            "valid": {k: round(v, 4) for k, v in res.valid_metrics.items()},
            "examples_per_second": round(res.examples_per_second, 1),
            "train_seconds": round(res.train_seconds, 1),
        }
    serving = TowerServing.load(
        settings.towers_dir,
        settings.text_cache,
        settings.restricted_min_support,
        out[SERVE_WINDOW]["version"],
    )
    serving.ensure(catalog, np.arange(len(catalog), dtype=np.int64))
    serving.save_vectors(catalog)
    # the tower-output drift reference: the end of the training window, all logged requests
    replay = log_replay(ds)
    t_tail = split - 0.2 * (split - start)
    n_tail = OUTPUT_REFERENCE_REQUESTS
    tail = (
        replay.requests(t_tail, split, max_requests=n_tail, positives_only=False, seed=seed)
        if replay.has_impressions  # every served request, clicked or not
        else logged_requests(
            replay, t_tail, split, max_requests=n_tail, seed=seed, kind=request_kind(ds.meta)
        )
    )
    reference = build_output_reference(serving, (replay.context(lr) for lr in tail))
    reference.save(serving.artifact_dir / OUTPUT_REFERENCE_FILE)
    version = out[SERVE_WINDOW]["version"]
    verdict = None
    if gated and served is not None:
        rule = GateRule(max_drop=settings.gate_max_drop, min_requests=settings.gate_min_requests)
        verdict = asyncio.run(
            gate_towers(settings, version, served, rule=rule, requests=settings.gate_requests)
        )
        if verdict["passed"]:
            set_current(settings.towers_dir, version)
        else:
            log.warning(
                "towers %s not promoted: regressions %s against %s",
                version,
                verdict["regressions"],
                served,
            )
    return {
        **out[SERVE_WINDOW],
        "ranker_window": out[RANKER_WINDOW],
        "texts_encoded": encoder.n_computed,
        "promoted": verdict is None or verdict["passed"],
        "gate": verdict,
    }


def train_graph(
    settings: Settings, *, max_epochs: int = 60, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """LightGCN, content map and bought-together graph, twice: on the events before the split
    (served) and on those before the ranker's feature time (the ranker learns its graph features
    from a model that has not seen its labels)."""
    # torch-geometric (the graph model) is imported only where a graph source is in use
    from graph.marketplace import train_marketplace_graph
    from graph.train import LightGCNConfig

    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    split = float(ds.meta["split_ts"])
    cfg = LightGCNConfig(
        batch_size=8192,
        lr=0.01,
        max_epochs=max_epochs,
        eval_every=5,
        patience=2,
        seed=seed,
        progress=progress,
    )
    out: dict[str, Any] = {}
    for window, until in (
        (RANKER_WINDOW, ranker_feature_time(ds.meta)),
        (SERVE_WINDOW, split),
    ):
        model, report = train_marketplace_graph(ds, catalog, until, cfg)
        model.save(settings.graph_dir / window)
        out[window] = report
    return out
