"""Offline jobs behind the CLI: index, train, evaluate, open the engine, demo."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from engine import backends
from engine.catalog import Catalog, load_jsonl
from engine.cold_start import ColdStart
from engine.cold_start_replay import ColdStartReplay
from engine.monitoring.gate import GateRule, gate, gate_towers
from engine.monitoring.reference import REFERENCE_FILE, build_reference, load_reference
from engine.monitoring.tower_drift import OUTPUT_REFERENCE_FILE, build_output_reference
from engine.pipeline.executor import Executor
from engine.pipeline.spec import PipelineSpec
from engine.pipelines import build_spec
from engine.retrieval.covisitation import CovisitationIndex, CovisParams
from engine.service import Engine
from engine.settings import Settings
from engine.signals import DAY, KIND_WEIGHT, Signals
from engine.source_names import SOURCE_NAMES
from engine.state.embedded import EmbeddedStore
from engine.state.protocol import Interaction, OnlineStore, Recorded, StoreUnavailable
from engine.state.redis_store import RedisStore
from engine.writes import index_doc, replay_catalog
from ingest.log import IngestLog
from ingest.synth.dataset import SynthDataset, load_dataset
from ltr.artifact import RankerArtifact
from ltr.compiled import compile_model
from ltr.features import resolve
from ltr.logs import LogReplay
from ltr.scorers import LambdaMartScorer
from ltr.train import build_training_set, train_ranker
from search_plugins.protocol import IndexDoc

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing

log = logging.getLogger("shopnow.jobs")

#: Models trained on all data before the split (served) or before the ranker's feature time.
SERVE_WINDOW, RANKER_WINDOW = "serve", "ranker"
OUTPUT_REFERENCE_REQUESTS = 500  # requests of the towers' tower-output drift reference


def _ranker_feature_time(start: float, split: float) -> float:
    """Signals and models that feed ranker features during ranker training end here."""
    return start + 0.6 * (split - start)


def load_catalog(settings: Settings, progress: bool = False) -> Catalog:
    catalog = Catalog()
    load_jsonl(catalog, settings.data_dir / "items.jsonl", progress=progress)
    replay_catalog(catalog, IngestLog(settings.ingest_path, settings.ingest_capacity))
    return catalog


def build_signals(
    ds: SynthDataset,
    catalog: Catalog,
    until: float,
) -> tuple[Signals, CovisitationIndex]:
    """Popularity, CTR and co-visitation from the events before ``until``."""
    ev = ds.events
    before = ev["ts"] < until
    signals = Signals.build(
        ev["ts"][before], ev["item"][before], ev["kind"][before], catalog.category.values, until
    )
    act = before & (ev["kind"] >= 1) & (ev["kind"] <= 3)
    covis = CovisitationIndex.build(
        ev["session"][act],
        ev["item"][act],
        ev["ts"][act],
        KIND_WEIGHT[ev["kind"][act]].astype(np.float32),
        len(catalog),
        CovisParams(window=5, half_life=14 * DAY, reference_time=until, top_n=100),
    )
    return signals, covis


def load_towers(
    settings: Settings,
    catalog: Catalog,
    progress: bool = False,
    window: str = SERVE_WINDOW,
    *,
    provisional: bool = False,
    version: str | None = None,
    complete: bool = True,
) -> TowerServing | None:
    """The two-tower model of ``window`` (``CURRENT`` under ``settings.towers_dir``, or under
    ``settings.towers_ranker_dir``; or ``version``) with a vector for every catalog row, or
    None when no model was trained or ``two_tower`` is not enabled. ``provisional`` (a server
    starting): rows whose text was never embedded get a provisional vector, for the vector
    lane to complete, instead of holding the start up behind the text model. ``complete=False``:
    only the vectors saved with the model (see :func:`complete_vectors`)."""
    directory = settings.towers_dir if window == SERVE_WINDOW else settings.towers_ranker_dir
    if "two_tower" not in settings.sources or not (directory / "CURRENT").is_file():
        return None
    from towers.serving import TowerServing

    serving = TowerServing.load(
        directory, settings.text_cache, settings.restricted_min_support, version
    )
    serving.load_vectors(catalog)
    if complete:
        complete_vectors(serving, catalog, provisional=provisional, progress=progress)
    return serving


def complete_vectors(
    serving: TowerServing, catalog: Catalog, *, provisional: bool, progress: bool = False
) -> int:
    """Compute the vectors the catalog rows lack (see :func:`load_towers`); returns how many."""
    missing = serving.missing(len(catalog))
    if len(missing):
        from ltr.aggregates import ItemAggregates

        aggs = ItemAggregates.build(catalog, serving.featurizer.min_support)
        with tqdm(
            total=len(missing), desc="item vectors", unit="item", disable=not progress
        ) as bar:
            for s in range(0, len(missing), 4096):
                chunk = missing[s : s + 4096]
                known = serving.cheap(catalog, chunk) if provisional else np.ones(len(chunk), bool)
                serving.ensure(catalog, chunk[known], aggs)
                serving.ensure(catalog, chunk[~known], aggs, provisional=True)
                bar.update(len(chunk))
    return len(missing)


def index_doc_fn(catalog: Catalog, towers: TowerServing | None) -> Callable[[int], IndexDoc]:
    """Row -> index document, with the row's vector of the served model when there is one."""
    return functools.partial(index_doc, catalog, towers)


async def build_index(settings: Settings, progress: bool = True) -> dict[str, Any]:
    t0 = time.perf_counter()
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings, progress)
    towers = load_towers(settings, catalog, progress)
    if towers is not None:
        towers.save_vectors(catalog)
    doc = index_doc_fn(catalog, towers)
    with tqdm(total=len(catalog), desc="index", unit="item", disable=not progress) as bar:
        n = await backends.build(settings, len(catalog), doc, bar.update)
    split = float(ds.meta["split_ts"])
    signals, covis = build_signals(ds, catalog, split)
    signals.save(settings.model_dir / "signals")
    covis.save(settings.model_dir / "covis.npz")
    return {
        "items": len(catalog),
        "indexed": n,
        "backend": settings.search_backend,
        "towers": towers.version if towers is not None else None,
        "signals_until": split,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def log_replay(ds: SynthDataset) -> LogReplay:
    return LogReplay(ds.events, ds.users["segment"], ds.users["user_ids"], ds.queries)


async def train(
    settings: Settings,
    *,
    max_requests: int = 20_000,
    seed: int = 0,
    progress: bool = True,
    reference_requests: int = 300,
    force: bool = False,
) -> dict[str, Any]:
    """Signals from the first 60% of the training period; the ranker learns on the rest. The
    artifact also gets its drift reference (``engine/monitoring/reference.py``) from up to
    ``reference_requests`` of the last training-window requests. It is published (becomes
    ``CURRENT``) when there is no served ranker, when it passes the promotion gate
    (``engine/monitoring/gate.py``) against the served one, or with ``force``."""
    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=True)
    start, split = float(ds.meta["start"]), float(ds.meta["split_ts"])
    t_feat = _ranker_feature_time(start, split)
    signals, covis = build_signals(ds, catalog, t_feat)
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

    def ranker_spec(
        cold: ColdStart, scorer: Any = None, names: tuple[str, ...] | None = None
    ) -> PipelineSpec:
        return build_spec(
            settings,
            catalog,
            index,
            signals,
            covis,
            scorer,
            names,
            towers,
            graph=graph,
            towers_in_memory=in_memory,
            deadline_ms=settings.offline_deadline_ms,
            cold_start=cold,
        )

    cold = cold_start_state(settings, catalog, signals)
    spec = ranker_spec(cold)
    replay = log_replay(ds)
    advance = ColdStartReplay(cold, ds.events).advance
    reqs = replay.requests(t_feat, split, max_requests=max_requests, seed=seed)
    if len(reqs) < 50:
        raise ValueError(f"only {len(reqs)} logged requests with clicks to train on")
    cut = int(len(reqs) * 0.85)
    executor = Executor(spec)
    tr = await build_training_set(
        executor,
        spec.hydrator,
        replay,
        reqs[:cut],
        seed=seed,
        progress=progress,
        desc="train features",
        advance=advance,
    )
    va = await build_training_set(
        executor,
        spec.hydrator,
        replay,
        reqs[cut:],
        seed=seed + 1,
        progress=progress,
        desc="valid features",
        advance=advance,
    )
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
    compile_model(path / "model.txt")  # so the first serving start need not compile
    # the drift reference: the end of the training window, served by the new model
    cold = cold_start_state(settings, catalog, signals)
    new_spec = ranker_spec(cold, LambdaMartScorer(artifact), tuple(artifact.meta.feature_names))
    ref_reqs = reqs[cut:][:reference_requests]
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
    it, and it becomes CURRENT (so a running server rolls it out, :mod:`engine.model_watch`,
    and the next ``shopnow index`` uses it) unless the promotion gate finds it regresses
    against the CURRENT one (``force``: no gate).

    A second model learns on the requests before the ranker's feature time only (under
    ``settings.towers_ranker_dir``): `shopnow train` computes the ranker's two-tower features
    with it, so they never come from a model that saw the ranker's labels."""
    from towers.artifact import current_version, set_current
    from towers.marketplace import marketplace_data, train_marketplace
    from towers.model import TowerConfig
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
        (RANKER_WINDOW, _ranker_feature_time(start, split), settings.towers_ranker_dir),
        (SERVE_WINDOW, split, settings.towers_dir),
    ):
        data = marketplace_data(
            catalog,
            log_replay(ds),
            start,
            end,
            encoder,
            TowerConfig(
                dim=settings.vector_dim,
                residual=True,
                text_dropout=settings.tower_text_dropout,
            ),
            min_support=settings.restricted_min_support,
            max_requests=max_requests,
            seed=seed,
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
    tail = replay.requests(
        split - 0.2 * (split - start),
        split,
        max_requests=OUTPUT_REFERENCE_REQUESTS,
        positives_only=False,
        seed=seed,
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
    from graph.marketplace import train_marketplace_graph
    from graph.train import LightGCNConfig

    ds = load_dataset(settings.data_dir)
    catalog = load_catalog(settings)
    start, split = float(ds.meta["start"]), float(ds.meta["split_ts"])
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
        (RANKER_WINDOW, _ranker_feature_time(start, split)),
        (SERVE_WINDOW, split),
    ):
        model, report = train_marketplace_graph(ds, catalog, until, cfg)
        model.save(settings.graph_dir / window)
        out[window] = report
    return out


def load_graph(
    settings: Settings, catalog: Catalog, window: str = SERVE_WINDOW
) -> GraphServing | None:
    """The graph model of ``window`` aligned to the catalog, or None when none was trained or
    neither graph source is enabled."""
    directory = settings.graph_dir / window
    wanted = {"graph", "bought_together"} & set(settings.sources)
    if not wanted or not (directory / "meta.json").is_file():
        return None
    from graph.serving import GraphModel, GraphServing

    return GraphServing(GraphModel.load(directory), catalog)


def open_store(settings: Settings) -> OnlineStore:
    if settings.online_store == "redis":
        return RedisStore(settings.redis_url)
    return EmbeddedStore()


async def warm_store(
    store: OnlineStore, ds: SynthDataset, item_ids: list[str], until: float
) -> int:
    """Load each known user's recent interactions before ``until`` (demo and evaluation)."""
    ev = ds.events
    act = (ev["ts"] < until) & (ev["kind"] >= 1) & (ev["kind"] <= 3)
    users, items, kinds, ts = ev["user"][act], ev["item"][act], ev["kind"][act], ev["ts"][act]
    named = ds.users["segment"][users] > 0
    users, items, kinds, ts = users[named], items[named], kinds[named], ts[named]
    ids = ds.users["user_ids"]
    recs = [
        Recorded(f"warm-{u}", str(ids[u]), Interaction(item_ids[i], int(k), float(t)))
        for u, i, k, t in zip(
            users.tolist(), items.tolist(), kinds.tolist(), ts.tolist(), strict=True
        )
    ]
    for s in range(0, len(recs), 10_000):
        await store.record(recs[s : s + 10_000])
    return len(recs)


def load_signals(settings: Settings, catalog: Catalog) -> tuple[Signals, CovisitationIndex | None]:
    """The behavioural signals `shopnow index` stored, grown to the current catalog."""
    sig_dir = settings.model_dir / "signals"
    if not sig_dir.exists():
        raise FileNotFoundError(f"no signals under {settings.model_dir}; run `shopnow index`")
    signals = Signals.load(sig_dir)
    signals.resize(catalog.category.values)
    covis_path = settings.model_dir / "covis.npz"
    covis = CovisitationIndex.load(covis_path) if covis_path.is_file() else None
    return signals, covis


async def open_engine(settings: Settings, *, warm: bool = True) -> Engine:
    catalog = load_catalog(settings)
    index = await backends.open_index(settings)
    signals, covis = load_signals(settings, catalog)
    scorer = None
    feature_names = None
    reference = None
    versions = {
        "index": index.name,
        "signals": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(signals.built_at)),
    }
    try:
        artifact = RankerArtifact.load(settings.model_dir)
        scorer = LambdaMartScorer(artifact)
        feature_names = tuple(artifact.meta.feature_names)
        reference = load_reference(artifact.path)
    except FileNotFoundError as exc:
        log.warning("no ranker artifact (%s): heuristic ranking", exc)
    towers = load_towers(settings, catalog, provisional=True)
    if towers is not None:
        versions["towers"] = towers.version
    graph = load_graph(settings, catalog)
    if graph is not None:
        versions["graph"] = graph.version
    store = open_store(settings)
    cold = cold_start_state(settings, catalog, signals, store)
    spec = build_spec(
        settings,
        catalog,
        index,
        signals,
        covis,
        scorer,
        feature_names,
        towers,
        graph=graph,
        cold_start=cold,
    )
    if warm and isinstance(store, EmbeddedStore) and (settings.data_dir / "events.npz").exists():
        ds = load_dataset(settings.data_dir)
        await warm_store(store, ds, catalog.ids, float(ds.meta["split_ts"]))
    engine = Engine(
        settings,
        catalog,
        index,
        store,
        signals,
        spec,
        versions,
        towers,
        graph,
        reference=reference,
    )
    with contextlib.suppress(StoreUnavailable):  # then seeded with the first ingest batch
        await engine.seed_new_items()
    return engine


def cold_start_state(
    settings: Settings, catalog: Catalog, signals: Signals, store: OnlineStore | None = None
) -> ColdStart:
    """Cold-start state over ``store``; by default a fresh embedded one, for a
    :class:`ColdStartReplay` to advance (training, evaluation)."""
    window = settings.new_arrivals_days * DAY
    return ColdStart(catalog, signals, store or EmbeddedStore(), window)


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
) -> dict[str, Any]:
    """The ranker and the heuristic on held-out requests after the split (or the ``rankers``
    given, by label, in the same pipeline; or the served ranker with each of the ``towers``
    versions given by label, their item vectors searched exactly in memory). ``towers_vectors=
    "provisional"`` gives every item its provisional vector (attributes only, as ingest does
    before the text encoder reaches it): the quality of the two-tower source for items still
    waiting on the vector lane. The index under ``settings`` must hold the same vectors."""
    from engine.evaluation.synthetic import evaluate_requests
    from ltr.scorers import HeuristicScorer

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
        scorer: Any, names: tuple[str, ...] | None = None, model: TowerServing | None = None
    ) -> PipelineSpec:
        return build_spec(
            settings,
            catalog,
            index,
            signals,
            covis,
            scorer,
            names,
            model or towers_served,
            graph=graph,
            deadline_ms=settings.offline_deadline_ms,
            cold_start=cold,
            towers_in_memory=model is not None,
        )

    if towers is not None:
        scorer: Any = HeuristicScorer()
        names: tuple[str, ...] | None = None
        try:
            served = RankerArtifact.load(settings.model_dir)
            scorer, names = LambdaMartScorer(served), tuple(served.meta.feature_names)
        except FileNotFoundError:
            pass  # no ranker yet: the heuristic ranks both
        specs = {}
        for label, version in towers.items():
            model = load_towers(settings, catalog, progress, version=version)
            if model is None:
                raise FileNotFoundError(f"towers {version} is not there or two_tower is off")
            specs[label] = spec(scorer, names, model)
    elif rankers is not None:
        specs = {
            name: spec(LambdaMartScorer(art), tuple(art.meta.feature_names))
            for name, art in rankers.items()
        }
    else:
        specs = {"heuristic": spec(HeuristicScorer())}
        try:
            art = RankerArtifact.load(settings.model_dir)
            specs["lambdamart"] = spec(LambdaMartScorer(art), tuple(art.meta.feature_names))
        except FileNotFoundError:
            log.warning("no ranker artifact: evaluating the heuristic only")
    replay = log_replay(ds)
    reqs = replay.requests(split, end + 1, max_requests=max_requests, seed=seed)
    leaf = ds.columns.get("category")
    partner = ds.truth.get("complement_of")
    complements = (leaf, partner) if leaf is not None and partner is not None else None
    report = await evaluate_requests(
        specs,
        replay,
        reqs,
        progress,
        catalog.created_at.values,
        complements,
        advance=ColdStartReplay(cold, ds.events).advance,
        per_request=per_request,
    )
    await index.close()
    return {"requests": len(reqs), "window": [split, end], **report}


def demo(
    settings: Settings, *, items: int, events: int, host: str, port: int, serve: bool = True
) -> int:
    """Synthesise (unless data exists), index, train, then serve on localhost."""
    import asyncio

    from ingest.synth.generate import generate

    two_tower = "two_tower" in settings.sources
    graph = bool({"graph", "bought_together"} & set(settings.sources))
    steps = 3 + int(serve) + int(two_tower) + int(graph)
    step = iter(range(1, steps + 1))
    if not (settings.data_dir / "events.npz").exists():
        print(
            f"[{next(step)}/{steps}] synthesising {items:,} items and {events:,} events "
            f"into {settings.data_dir}"
        )
        generate(settings.data_dir, n_items=items, n_events=events, seed=0, progress=True)
    else:
        print(f"[{next(step)}/{steps}] using the existing data in {settings.data_dir}")
    if two_tower:
        print(f"[{next(step)}/{steps}] training the two towers (item text is embedded once)")
        rep = train_towers(settings)
        print({k: rep[k] for k in ("version", "train_examples", "best_epoch", "valid")})
    if graph:
        print(f"[{next(step)}/{steps}] training the graph model (LightGCN, bought-together)")
        g = train_graph(settings, max_epochs=30)
        print({w: {k: g[w][k] for k in ("version", "best_epoch", "valid")} for w in g})
    print(f"[{next(step)}/{steps}] indexing")
    print(asyncio.run(build_index(settings)))
    print(f"[{next(step)}/{steps}] training the ranker")
    rep = asyncio.run(train(settings, max_requests=8000))
    print({k: rep[k] for k in ("version", "n_requests", "metrics")})
    if not serve:
        return 0
    import uvicorn

    from engine.api.app import create_app
    from engine.logs import configure_json_logging

    print(
        f"[{next(step)}/{steps}] serving on http://{host}:{port}  (docs: http://{host}:{port}/docs)"
    )
    print(
        f'  curl -s -XPOST http://{host}:{port}/v1/search -d \'{{"query": "wireless '
        f'headphones", "explain": true}}\''
    )
    print(f'  curl -s -XPOST http://{host}:{port}/v1/feed -d \'{{"user_id": "u000001"}}\'')
    configure_json_logging(settings.log_level)
    app = create_app(lambda: open_engine(settings))  # opened on the server's event loop
    uvicorn.run(app, host=host, port=port, log_config=None)
    return 0
