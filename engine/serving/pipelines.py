"""The factory that turns parts into the one pipeline serving both surfaces.

::

    sources (concurrent, each with a deadline, fail-open)
      bm25 [search] | covis [feed, search] | popular, trending, popular_in_context [feed]
      | two_tower [feed, search; when a towers model is served]
      | graph, bought_together [feed; when a graph model is served] | new_arrivals [feed]
    -> merge (<= max_candidates, best rank in any source wins)
    -> filters: deleted, not_yet_available, out_of_stock, request_filters, already_purchased
    -> features (ltr.features registry) -> scorer (LambdaMART, heuristic fallback)
    -> re-rankers: duplicate_variants, mmr, brand_seller_caps, exploration (feed)
    -> rules slot (merchandiser rules) -> page
"""

from __future__ import annotations

from engine.core.catalog import Catalog
from engine.core.pipeline.spec import PipelineSpec, SourceSpec
from engine.core.pipeline.stages import CandidateSource, Scorer
from engine.core.retrieval.covisitation import CoVisits
from engine.core.retrieval.text_similarity import TextSimilarity
from engine.core.search import SearchIndex
from engine.core.settings import Settings
from engine.core.signals import DAY, Signals
from engine.serving.cold_start import ColdStart
from engine.serving.models import ServedModels
from engine.serving.rerank.diversity import BrandSellerCaps, CategoryMMR, DedupeVariants
from engine.serving.rerank.exploration import ExplorationSlots
from engine.serving.rerank.filters import (
    AlreadyPurchasedFilter,
    DeletedFilter,
    NotYetAvailableFilter,
    OutOfStockFilter,
    RequestFilter,
)
from engine.serving.rules.apply import RulesStage
from engine.serving.sources.new_arrivals import NewArrivalsSource
from engine.serving.sources.registry import (
    REGISTRY,
    SOURCE_NAMES,
    Parts,
    Registration,
    check_sources,
    enabled_sources,
    k_of,
)
from engine.serving.sources.switch import Switched
from engine.serving.state.embedded import EmbeddedStore
from ltr.features import FeatureHydrator, default_feature_names, resolve
from ltr.scorers import HeuristicScorer


def build_spec(
    *,
    settings: Settings,
    catalog: Catalog,
    index: SearchIndex,
    signals: Signals,
    covis: CoVisits | None = None,
    scorer: Scorer | None = None,
    feature_names: tuple[str, ...] | None = None,
    models: ServedModels | None = None,
    sources: tuple[str, ...] | None = None,
    towers_in_memory: bool = False,
    deadline_ms: float | None = None,
    cold_start: ColdStart | None = None,
    dense: TextSimilarity | None = None,
) -> PipelineSpec:
    """``models`` holds the served towers and graph (default: none) that the two-tower and
    graph sources read at each request. ``sources`` names the enabled candidate sources
    (default: :func:`~engine.serving.sources.registry.enabled_sources`); the others stay in
    the spec, switched off, so feature columns keep their meaning.
    ``towers_in_memory``: the towers' item vectors are not in the index (ranker training on an
    earlier model), search them exactly in memory. ``deadline_ms`` overrides the sources'
    deadline (offline replays use ``settings.offline_deadline_ms``). ``cold_start`` holds the
    online store new_arrivals reads (default: an empty embedded one, for offline replays to
    advance: :func:`cold_start_of`). ``dense``: the item texts' vectors, for the ranker's
    ``query_text_similarity`` (default: none, the feature is missing)."""
    parts = Parts(
        settings=settings,
        catalog=catalog,
        index=index,
        signals=signals,
        covis=covis,
        models=models or ServedModels.of(),
        cold_start=cold_start
        or ColdStart(catalog, signals, EmbeddedStore(), settings.new_arrivals_days * DAY),
        towers_in_memory=towers_in_memory,
        dense=dense,
    )
    enabled = enabled_sources(settings) if sources is None else sources
    check_sources(enabled)
    check_sources(tuple(settings.source_k))
    deadline = settings.source_deadline_ms if deadline_ms is None else deadline_ms
    specs = tuple(
        SourceSpec(_built(r, parts, enabled), k_of(settings, r.name), deadline) for r in REGISTRY
    )
    names = feature_names or default_feature_names(SOURCE_NAMES)
    hydrator = FeatureHydrator(
        resolve(names, SOURCE_NAMES),
        catalog,
        signals,
        settings.restricted_min_support,
        covis=covis,
        dense=dense,
    )
    fallback = HeuristicScorer()
    return PipelineSpec(
        sources=specs,
        pre_filters=(
            DeletedFilter(catalog),
            NotYetAvailableFilter(catalog),
            OutOfStockFilter(catalog),
            RequestFilter(catalog),
            AlreadyPurchasedFilter(),
        ),
        hydrator=hydrator,
        scorer=scorer or fallback,
        fallback_scorer=fallback,
        rerankers=(
            DedupeVariants(catalog),
            CategoryMMR(catalog, settings.mmr_lambda, intent=lambda: hydrator.intent),
            BrandSellerCaps(catalog, settings.brand_cap_top20, settings.seller_cap_top20),
            ExplorationSlots(
                catalog,
                settings.explore_positions,
                settings.new_arrivals_days * DAY,
                settings.explore_search_positions,
            ),
        ),
        rules=(RulesStage(catalog, hydrator.current_aggregates),),
        max_candidates=settings.max_candidates,
    )


def _built(reg: Registration, parts: Parts, enabled: tuple[str, ...]) -> CandidateSource:
    source = reg.build(parts)
    if source.name != reg.name:
        raise ValueError(f"the source registered as {reg.name} calls itself {source.name}")
    return source if reg.name in enabled else Switched(source)


def cold_start_of(spec: PipelineSpec) -> ColdStart:
    """The cold-start state the spec's new_arrivals source reads."""
    for s in spec.sources:
        src = s.source.source if isinstance(s.source, Switched) else s.source
        if isinstance(src, NewArrivalsSource):
            return src.cold_start
    raise ValueError("the pipeline has no new_arrivals source")
