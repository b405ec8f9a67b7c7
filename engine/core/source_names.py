"""The candidate source names, in column order (the ranker's features are named after them),
kept apart so settings and the pipeline factory share one list."""

SOURCE_NAMES = (
    "bm25",
    "covis",
    "popular",
    "trending",
    "popular_in_context",
    "two_tower",
    "graph",
    "bought_together",
    "new_arrivals",
)
#: Option (a) of the design question: traditional candidate generation.
TRADITIONAL = ("bm25", "covis", "popular", "trending", "popular_in_context", "new_arrivals")
