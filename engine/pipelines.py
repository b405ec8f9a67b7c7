"""The factory that turns parts into the one pipeline serving both surfaces.

::

    sources (concurrent, each with a deadline, fail-open)
      bm25 [search] | covis [feed, search] | popular, trending, popular_in_context [feed]
    -> merge (<= max_candidates, best rank in any source wins)
    -> filters: deleted, not_yet_available, out_of_stock, request_filters, already_purchased
    -> features (ltr.features registry) -> scorer (LambdaMART, heuristic fallback)
    -> re-rankers: duplicate_variants, mmr, brand_seller_caps
    -> rules slot (merchandiser rules) -> page
"""

from __future__ import annotations

from engine.catalog import Catalog
from engine.pipeline.spec import PipelineSpec, SourceSpec
from engine.pipeline.stages import CandidateSource, Scorer
from engine.rerank.diversity import BrandSellerCaps, CategoryMMR, DedupeVariants
from engine.rerank.filters import (
    AlreadyPurchasedFilter,
    DeletedFilter,
    NotYetAvailableFilter,
    OutOfStockFilter,
    RequestFilter,
)
from engine.retrieval.covisitation import CovisitationIndex
from engine.settings import Settings
from engine.signals import Signals
from engine.sources.covisitation import CoVisitationSource
from engine.sources.lexical import LexicalSource
from engine.sources.popularity import ContextCategorySource, PopularSource
from ltr.features import FeatureHydrator, default_feature_names, resolve
from ltr.scorers import HeuristicScorer
from search_plugins.protocol import SearchIndex

#: Source names in column order; the ranker's features are named after them.
SOURCE_NAMES = ("bm25", "covis", "popular", "trending", "popular_in_context")


def build_spec(
    settings: Settings,
    catalog: Catalog,
    index: SearchIndex,
    signals: Signals,
    covis: CovisitationIndex | None,
    scorer: Scorer | None = None,
    feature_names: tuple[str, ...] | None = None,
) -> PipelineSpec:
    deadline = settings.source_deadline_ms
    stages: tuple[CandidateSource, ...] = (
        LexicalSource(index, catalog),
        CoVisitationSource(covis),
        PopularSource(signals, "popular"),
        PopularSource(signals, "trending"),
        ContextCategorySource(signals, catalog),
    )
    sources = tuple(SourceSpec(s, settings.source_k.get(s.name, 500), deadline) for s in stages)
    assert tuple(s.source.name for s in sources) == SOURCE_NAMES
    names = feature_names or default_feature_names(SOURCE_NAMES)
    hydrator = FeatureHydrator(
        resolve(names, SOURCE_NAMES), catalog, signals, settings.restricted_min_support
    )
    fallback = HeuristicScorer()
    return PipelineSpec(
        sources=sources,
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
            CategoryMMR(catalog, settings.mmr_lambda),
            BrandSellerCaps(catalog, settings.brand_cap_top20, settings.seller_cap_top20),
        ),
        rules=(),
        max_candidates=settings.max_candidates,
    )
