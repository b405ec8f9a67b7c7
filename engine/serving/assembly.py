"""The composition root: the catalog, signals, models, stores and the pipeline a server
runs, assembled from settings and what the offline jobs wrote; `open_engine` opens it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from engine.core import kernels
from engine.core.catalog import Catalog, load_jsonl
from engine.core.online_store import Interaction, OnlineStore, Recorded, StoreUnavailable
from engine.core.pipeline.stages import Scorer
from engine.core.retrieval.covisitation import CoVisits
from engine.core.search import IndexDoc
from engine.core.settings import Settings
from engine.core.signals import DAY, Signals
from engine.serving import backends
from engine.serving.cold_start import ColdStart
from engine.serving.drift import load_reference
from engine.serving.models import ServedModels
from engine.serving.pipelines import build_spec
from engine.serving.service import Engine
from engine.serving.sources.registry import enabled_sources, reading
from engine.serving.state.embedded import EmbeddedStore
from engine.serving.state.redis_store import RedisStore
from engine.serving.writes import index_doc, replay_catalog
from ingest.log import IngestLog
from ltr.aggregates import ItemAggregates
from ltr.artifact import RankerArtifact
from ltr.scorers import HeuristicScorer, LambdaMartScorer
from synth.dataset import SynthDataset, load_dataset

if TYPE_CHECKING:
    from graph.serving import GraphServing
    from towers.serving import TowerServing
    from towers.text_vectors import TextVectors

log = logging.getLogger("shopnow.assembly")

#: Models trained on all data before the split (served) or before the ranker's feature time.
SERVE_WINDOW, RANKER_WINDOW = "serve", "ranker"


def load_catalog(settings: Settings, progress: bool = False) -> Catalog:
    catalog = Catalog()
    load_jsonl(catalog, settings.data_dir / "items.jsonl", progress=progress)
    ingest_log = IngestLog(
        settings.ingest_path, settings.ingest_capacity, settings.ingest_checkpoint
    )
    replay_catalog(catalog, ingest_log)
    return catalog


def load_signals(settings: Settings, catalog: Catalog) -> tuple[Signals, CoVisits | None]:
    """The behavioural signals `shopnow index` stored, grown to the current catalog."""
    sig_dir = settings.model_dir / "signals"
    if not sig_dir.exists():
        raise FileNotFoundError(f"no signals under {settings.model_dir}; run `shopnow index`")
    signals = Signals.load(sig_dir)
    signals.resize(catalog.category.values)
    return signals, CoVisits.load(settings.model_dir)


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
    if not reading("towers", enabled_sources(settings)) or not (directory / "CURRENT").is_file():
        return None
    # torch (the towers) is imported only where two-tower retrieval is in use
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


def load_graph(
    settings: Settings, catalog: Catalog, window: str = SERVE_WINDOW
) -> GraphServing | None:
    """The graph model of ``window`` aligned to the catalog, or None when none was trained or
    neither graph source is enabled."""
    directory = settings.graph_dir / window
    wanted = reading("graph", enabled_sources(settings))
    if not wanted or not (directory / "meta.json").is_file():
        return None
    # torch-geometric (the graph model) is imported only where a graph source is in use
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


def cold_start_state(
    settings: Settings, catalog: Catalog, signals: Signals, store: OnlineStore | None = None
) -> ColdStart:
    """Cold-start state over ``store``; by default a fresh embedded one, for a
    :class:`ColdStartReplay` to advance (training, evaluation)."""
    window = settings.new_arrivals_days * DAY
    return ColdStart(catalog, signals, store or EmbeddedStore(), window)


@dataclass(frozen=True, slots=True)
class ServedRanker:
    """The ranker of the pipeline: the published LambdaMART artifact, or the heuristic when
    none was trained."""

    scorer: Scorer
    feature_names: tuple[str, ...] | None  # None: the default features
    artifact: RankerArtifact | None

    @property
    def version(self) -> str:
        return self.artifact.meta.version if self.artifact is not None else "heuristic"


def load_text_vectors(settings: Settings, catalog: Catalog) -> TextVectors | None:
    """The item texts' MiniLM vectors (``shopnow index --text-vectors``), or None."""
    from towers.text_vectors import TextVectors

    return TextVectors.load(settings.model_dir, catalog, settings.text_cache)


def served_ranker(settings: Settings) -> ServedRanker:
    """The published ranker under ``settings.model_dir``, with the heuristic as its fallback."""
    try:
        artifact = RankerArtifact.load(settings.model_dir)
    except FileNotFoundError as exc:
        log.warning("no ranker artifact (%s): heuristic ranking", exc)
        return ServedRanker(HeuristicScorer(), None, None)
    names = tuple(artifact.meta.feature_names)
    return ServedRanker(LambdaMartScorer(artifact), names, artifact)


def freeze_heap() -> None:
    """Collect once, then keep every object alive now out of the collector's later passes:
    what opening the engine built (catalog, models, indexes: millions of objects) lives as
    long as the process, and full passes over it stall requests (measured on the 50K world
    at 40 requests/s: p99 254 ms before, 35 ms after). Called once the engine is open."""
    gc.collect()
    gc.freeze()


async def open_engine(settings: Settings, *, warm: bool = True, offline: bool = False) -> Engine:
    """The served engine. ``offline``: for an offline job that replays requests through it
    (judged evaluation), with the offline deadlines: a busy machine changes its timings, never
    its candidates."""
    kernels.warm()  # compiled (or read from numba's cache) now, not on the first request
    catalog = load_catalog(settings)
    index = await backends.open_index(settings, offline=offline)
    signals, covis = load_signals(settings, catalog)
    ranker = served_ranker(settings)
    reference = None if ranker.artifact is None else load_reference(ranker.artifact.path)
    versions = {
        "index": index.name,
        "signals": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(signals.built_at)),
    }
    towers = load_towers(settings, catalog, provisional=True)
    if towers is not None:
        versions["towers"] = towers.version
    graph = load_graph(settings, catalog)
    if graph is not None:
        versions["graph"] = graph.version
    dense = load_text_vectors(settings, catalog)
    if dense is not None:
        versions["text"] = dense.version
    store = open_store(settings)
    cold = cold_start_state(settings, catalog, signals, store)
    models = ServedModels.of(towers, graph)  # the spec's sources and the engine share them
    spec = build_spec(
        settings=settings,
        catalog=catalog,
        index=index,
        signals=signals,
        covis=covis,
        scorer=ranker.scorer,
        feature_names=ranker.feature_names,
        models=models,
        cold_start=cold,
        dense=dense,
        deadline_ms=settings.offline_deadline_ms if offline else None,
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
        models,
        reference=reference,
    )
    with contextlib.suppress(StoreUnavailable):  # then seeded with the first ingest batch
        await engine.seed_new_items()
    if offline:  # a replay searches every query as served, the first one included
        await asyncio.to_thread(engine.spelling.wait)
    return engine
