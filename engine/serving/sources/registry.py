"""Every candidate source, registered once.

A registration names the source (the ranker's feature columns are named after it, in this
order), says which option of the design question it belongs to, which trained model it reads,
how many candidates it is asked for by default, what it adds to the system (the decision
report's maintainability count) and how the pipeline factory builds it from the engine's parts.
A new source is one more :class:`Registration` in :data:`REGISTRY`; settings, the CLI, the
pipeline factory, the model loaders and the decision report all read this list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from engine.core.catalog import Catalog
from engine.core.pipeline.stages import CandidateSource
from engine.core.retrieval.covisitation import CoVisits
from engine.core.retrieval.text_similarity import TextSimilarity
from engine.core.search import SearchIndex
from engine.core.settings import Settings
from engine.core.signals import Signals
from engine.serving.cold_start import ColdStart
from engine.serving.models import ServedModels
from engine.serving.sources.covisitation import CoVisitationSource
from engine.serving.sources.graph import BoughtTogetherSource, GraphSource
from engine.serving.sources.last_items import LastItemsSource
from engine.serving.sources.lexical import LexicalSource
from engine.serving.sources.new_arrivals import NewArrivalsSource
from engine.serving.sources.popularity import ContextCategorySource, PopularSource
from engine.serving.sources.text import TextSource
from engine.serving.sources.two_tower import TwoTowerSource

Model = Literal["towers", "graph", "text"]


@dataclass(frozen=True, slots=True)
class Needs:
    """What one candidate source adds to the system beyond the shared ranker and catalog."""

    models: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    index_types: tuple[str, ...] = ()
    refresh_paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Parts:
    """What a source may be built from."""

    settings: Settings
    catalog: Catalog
    index: SearchIndex
    signals: Signals
    covis: CoVisits | None
    models: ServedModels
    cold_start: ColdStart
    towers_in_memory: bool = False
    dense: TextSimilarity | None = None  # the item texts' vectors


@dataclass(frozen=True, slots=True)
class Registration:
    name: str
    build: Callable[[Parts], CandidateSource]
    k: int  # candidates asked of it unless ``Settings.source_k`` says otherwise
    needs: Needs
    traditional: bool = True  # option (a); False: learned retrieval, option (b)
    model: Model | None = None  # the trained model it reads; without one it returns nothing


_POPULARITY = Needs(
    jobs=("popularity / CTR snapshot",),
    refresh_paths=("online counters from events (Redis)",),
)


def _session_table(table: str) -> Needs:
    """What a source of an item-to-item table built from sessions needs."""
    return Needs(
        models=(table,),
        jobs=("co-visitation build from sessions",),
        refresh_paths=("batch rebuild from events",),
    )


_GRAPH_MODEL = ("LightGCN graph model",)
_GRAPH_JOB = ("graph training (scheduled)",)

REGISTRY: tuple[Registration, ...] = (
    Registration(
        "bm25",
        lambda p: LexicalSource(p.index, p.catalog),
        2000,
        Needs(
            index_types=("inverted index (BM25)",),
            refresh_paths=("bulk write + refresh at ingest",),
        ),
    ),
    Registration(
        "covis",
        lambda p: CoVisitationSource(None if p.covis is None else p.covis.symmetric),
        800,
        _session_table("co-visitation table"),
    ),
    Registration("popular", lambda p: PopularSource(p.signals, "popular"), 1000, _POPULARITY),
    Registration("trending", lambda p: PopularSource(p.signals, "trending"), 400, _POPULARITY),
    Registration(
        "popular_in_context",
        lambda p: ContextCategorySource(p.signals, p.catalog),
        1000,
        _POPULARITY,
    ),
    Registration(
        "two_tower",
        lambda p: TwoTowerSource(p.index, p.catalog, p.models.towers, in_memory=p.towers_in_memory),
        1000,
        Needs(
            models=("two-tower (query + item tower)", "MiniLM text encoder"),
            jobs=("two-tower training", "item re-embedding on model change (blue/green)"),
            index_types=("HNSW vector index",),
            refresh_paths=("provisional vector at ingest", "vector lane (MiniLM + item tower)"),
        ),
        traditional=False,
        model="towers",
    ),
    Registration(
        "graph",
        lambda p: GraphSource(p.models.graph),
        800,
        Needs(
            models=_GRAPH_MODEL,
            jobs=_GRAPH_JOB,
            index_types=("graph-space vectors",),
            refresh_paths=("content map at ingest", "model swap on publish"),
        ),
        traditional=False,
        model="graph",
    ),
    Registration(
        "bought_together",
        lambda p: BoughtTogetherSource(p.models.graph),
        300,
        Needs(
            models=_GRAPH_MODEL,
            jobs=_GRAPH_JOB,
            refresh_paths=("co-purchase edges from events",),
        ),
        traditional=False,
        model="graph",
    ),
    Registration(
        "new_arrivals",
        lambda p: NewArrivalsSource(p.cold_start),
        100,
        Needs(refresh_paths=("catalog creation time at ingest",)),
    ),
    Registration(
        "sequence",
        lambda p: LastItemsSource("sequence", None if p.covis is None else p.covis.sequential),
        300,
        _session_table("sequential co-visitation table"),
    ),
    Registration(
        "basket",
        lambda p: LastItemsSource("basket", None if p.covis is None else p.covis.basket),
        300,
        _session_table("basket co-occurrence table"),
    ),
    Registration(
        "content",
        lambda p: LastItemsSource("content", None if p.covis is None else p.covis.content),
        100,
        Needs(
            models=("content similarity table (titles, attributes)",),
            jobs=("content table build from the catalog at index time",),
            refresh_paths=("rebuild at index time",),
        ),
    ),
    Registration(
        "text",
        lambda p: TextSource(p.dense),
        200,
        Needs(
            models=("MiniLM text encoder", "item text vectors"),
            jobs=("item text embedding at index time",),
            index_types=("exact vector search in memory",),
            refresh_paths=("rebuild at index time",),
        ),
        traditional=False,
        model="text",
    ),
)

BY_NAME: dict[str, Registration] = {r.name: r for r in REGISTRY}
#: The candidate source names, in column order.
SOURCE_NAMES: tuple[str, ...] = tuple(r.name for r in REGISTRY)
#: Option (a) of the design question: traditional candidate generation.
TRADITIONAL: tuple[str, ...] = tuple(r.name for r in REGISTRY if r.traditional)


def check_sources(names: tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(SOURCE_NAMES))
    if unknown:
        raise ValueError(f"unknown candidate sources {unknown}; known: {list(SOURCE_NAMES)}")


def enabled_sources(settings: Settings) -> tuple[str, ...]:
    """The sources ``settings`` enables (every registered one by default)."""
    names = SOURCE_NAMES if settings.sources is None else settings.sources
    check_sources(names)
    return names


def reading(model: Model, names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``names`` that read ``model``."""
    return tuple(n for n in names if BY_NAME[n].model == model)


def available(models: set[Model]) -> tuple[str, ...]:
    """The sources that can return candidates when ``models`` are trained."""
    return tuple(r.name for r in REGISTRY if r.model is None or r.model in models)


def k_of(settings: Settings, name: str) -> int:
    return settings.source_k.get(name, BY_NAME[name].k)
