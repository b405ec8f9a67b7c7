"""The retrieval options compared, and what each one takes to run (maintainability)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.source_names import SOURCE_NAMES, TRADITIONAL

VARIANTS: dict[str, tuple[str, ...]] = {
    "traditional": TRADITIONAL,
    "two_tower": ("two_tower",),
    "hybrid": SOURCE_NAMES,
}


@dataclass(frozen=True, slots=True)
class Needs:
    """What one candidate source adds to the system beyond the shared ranker and catalog."""

    models: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    index_types: tuple[str, ...] = ()
    refresh_paths: tuple[str, ...] = ()


NEEDS: dict[str, Needs] = {
    "bm25": Needs(
        index_types=("inverted index (BM25)",),
        refresh_paths=("bulk write + refresh at ingest",),
    ),
    "covis": Needs(
        models=("co-visitation table",),
        jobs=("co-visitation build from sessions",),
        refresh_paths=("batch rebuild from events",),
    ),
    "popular": Needs(
        jobs=("popularity / CTR snapshot",),
        refresh_paths=("online counters from events (Redis)",),
    ),
    "trending": Needs(
        jobs=("popularity / CTR snapshot",),
        refresh_paths=("online counters from events (Redis)",),
    ),
    "popular_in_context": Needs(
        jobs=("popularity / CTR snapshot",),
        refresh_paths=("online counters from events (Redis)",),
    ),
    "new_arrivals": Needs(refresh_paths=("catalog creation time at ingest",)),
    "two_tower": Needs(
        models=("two-tower (query + item tower)", "MiniLM text encoder"),
        jobs=("two-tower training", "item re-embedding on model change (blue/green)"),
        index_types=("HNSW vector index",),
        refresh_paths=("provisional vector at ingest", "vector lane (MiniLM + item tower)"),
    ),
    "graph": Needs(
        models=("LightGCN graph model",),
        jobs=("graph training (scheduled)",),
        index_types=("graph-space vectors",),
        refresh_paths=("content map at ingest", "model swap on publish"),
    ),
    "bought_together": Needs(
        models=("LightGCN graph model",),
        jobs=("graph training (scheduled)",),
        refresh_paths=("co-purchase edges from events",),
    ),
}
RANKER = Needs(
    models=("LambdaMART ranker",),
    jobs=("ranker training",),
    refresh_paths=("feature snapshot",),
)


def maintainability(sources: tuple[str, ...]) -> dict[str, object]:
    """Distinct models, jobs, index types and refresh paths the variant runs (ranker included),
    with their names, and their total: fewer moving parts is easier to keep running."""
    parts = [RANKER, *(NEEDS[s] for s in sources)]
    out: dict[str, object] = {}
    total = 0
    for field in ("models", "jobs", "index_types", "refresh_paths"):
        names = sorted({n for p in parts for n in getattr(p, field)})
        out[field] = names
        total += len(names)
    out["moving_parts"] = total
    return out
