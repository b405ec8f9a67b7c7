"""The retrieval options compared, and what each one takes to run (maintainability)."""

from __future__ import annotations

from engine.serving.sources.registry import BY_NAME, SOURCE_NAMES, TRADITIONAL, Needs

VARIANTS: dict[str, tuple[str, ...]] = {
    "traditional": TRADITIONAL,
    "two_tower": ("two_tower",),
    # every source but the text lane: its item-text vectors serve search on catalogs without
    # behaviour (measured on graded judgments, `shopnow eval --judgments`); on logged
    # behaviour the two towers read the same texts
    "hybrid": tuple(n for n in SOURCE_NAMES if n != "text"),
}


RANKER = Needs(
    models=("LambdaMART ranker",),
    jobs=("ranker training",),
    refresh_paths=("feature snapshot",),
)


def maintainability(sources: tuple[str, ...]) -> dict[str, object]:
    """Distinct models, jobs, index types and refresh paths the variant runs (ranker included),
    with their names, and their total: fewer moving parts is easier to keep running."""
    parts = [RANKER, *(BY_NAME[s].needs for s in sources)]
    out: dict[str, object] = {}
    total = 0
    for field in ("models", "jobs", "index_types", "refresh_paths"):
        names = sorted({n for p in parts for n in getattr(p, field)})
        out[field] = names
        total += len(names)
    out["moving_parts"] = total
    return out
